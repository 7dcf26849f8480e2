import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { SYNTH_CATEGORIES, synthCategory } from './categories/index.js';
import { renderSample, type SampleRequest } from './render.js';
import type { Tier } from './types.js';

export interface SynthOptions {
  /** Root folder of the MVTec-layout dataset to write. */
  out: string;
  seed: number;
  categories?: readonly string[];
  size?: number;
  tier?: Tier;
  /** Good training images per category (default 200). */
  train?: number;
  /** Test images per category, half of them defective (default 60). */
  test?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SynthSummary {
  root: string;
  files: number;
  categories: Record<string, { train: number; testGood: number; testDefective: Record<string, number> }>;
}

/** Defective test samples are keyed from this index on, so the good ones do not depend on the counts. */
const DEFECT_INDEX_BASE = 100_000;
export const SYNTH_FORMAT_VERSION = 1;

interface Job {
  req: SampleRequest;
  imagePath: string;
  maskPath: string | null;
}

function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 100_000) {
    throw new RangeError(`${name} must be an integer in [0, 100000], got ${value}`);
  }
  return value;
}

const pad = (n: number) => String(n).padStart(3, '0');

export function planSynthDataset(opts: SynthOptions): { jobs: Job[]; summary: SynthSummary } {
  if (typeof opts.out !== 'string' || opts.out.length === 0) throw new TypeError('out must be a folder path');
  if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in [0, 4294967295], got ${opts.seed}`);
  }
  const size = opts.size ?? 256;
  const tier = opts.tier ?? 'easy';
  if (tier !== 'easy' && tier !== 'hard')
    throw new RangeError(`tier must be "easy" or "hard", got "${tier}"`);
  const trainCount = checkCount('train', opts.train ?? 200);
  const testCount = checkCount('test', opts.test ?? 60);
  const specs = (opts.categories ?? SYNTH_CATEGORIES.map((c) => c.name)).map(synthCategory);
  const jobs: Job[] = [];
  const summary: SynthSummary = { root: opts.out, files: 0, categories: {} };
  for (const spec of specs) {
    const dir = join(opts.out, spec.name);
    const base = { category: spec.name, seed: opts.seed, size, tier };
    for (let i = 0; i < trainCount; i++) {
      jobs.push({
        req: { ...base, split: 'train', index: i, defect: null },
        imagePath: join(dir, 'train', 'good', `${pad(i)}.png`),
        maskPath: null,
      });
    }
    const defective = Math.floor(testCount / 2);
    const good = testCount - defective;
    for (let i = 0; i < good; i++) {
      jobs.push({
        req: { ...base, split: 'test', index: i, defect: null },
        imagePath: join(dir, 'test', 'good', `${pad(i)}.png`),
        maskPath: null,
      });
    }
    const defects = spec.defects[tier];
    const perDefect: Record<string, number> = {};
    for (let k = 0; k < defective; k++) {
      const defect = defects[k % defects.length].name;
      const n = perDefect[defect] ?? 0;
      perDefect[defect] = n + 1;
      jobs.push({
        req: { ...base, split: 'test', index: DEFECT_INDEX_BASE + k, defect },
        imagePath: join(dir, 'test', defect, `${pad(n)}.png`),
        maskPath: join(dir, 'ground_truth', defect, `${pad(n)}_mask.png`),
      });
    }
    summary.categories[spec.name] = { train: trainCount, testGood: good, testDefective: perDefect };
  }
  summary.files = jobs.reduce((n, j) => n + (j.maskPath ? 2 : 1), 0);
  return { jobs, summary };
}

export function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Buffer> {
  const img = sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), {
    raw: { width, height, channels },
  });
  // masks stay single-channel grey, as in MVTec-AD
  return (channels === 1 ? img.toColourspace('b-w') : img).png({ compressionLevel: 6 }).toBuffer();
}

async function writeJob(job: Job): Promise<void> {
  const sample = renderSample(job.req);
  const { size } = sample;
  const writes = [encodePng(sample.image, size, size, 3).then((png) => writeFile(job.imagePath, png))];
  if (job.maskPath && sample.mask) {
    const maskPath = job.maskPath;
    writes.push(encodePng(sample.mask, size, size, 1).then((png) => writeFile(maskPath, png)));
  }
  await Promise.all(writes);
}

/** Writes a deterministic synthetic inspection dataset in MVTec-AD layout. */
export async function generateSynthDataset(opts: SynthOptions): Promise<SynthSummary> {
  const { jobs, summary } = planSynthDataset(opts);
  const existing = await stat(opts.out).catch(() => null);
  if (existing && !existing.isDirectory()) throw new Error(`--out ${opts.out} exists and is not a folder`);
  const dirs = new Set<string>();
  for (const j of jobs) {
    dirs.add(join(j.imagePath, '..'));
    if (j.maskPath) dirs.add(join(j.maskPath, '..'));
  }
  for (const d of dirs) await mkdir(d, { recursive: true });
  // rendering is synchronous; keep a few PNG encodes in flight on sharp's thread pool meanwhile
  const inFlight = new Set<Promise<void>>();
  let done = 0;
  for (const job of jobs) {
    const p: Promise<void> = writeJob(job).then(() => {
      inFlight.delete(p);
      done++;
      opts.onProgress?.(done, jobs.length);
    });
    inFlight.add(p);
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const manifest = {
    format: 'diad-synth',
    version: SYNTH_FORMAT_VERSION,
    seed: opts.seed,
    tier: opts.tier ?? 'easy',
    size: opts.size ?? 256,
    layout: 'mvtec',
    categories: Object.fromEntries(
      Object.entries(summary.categories).map(([name, counts]) => {
        const spec = synthCategory(name);
        return [name, { kind: spec.kind, description: spec.description, ...counts }];
      }),
    ),
  };
  await writeFile(join(opts.out, 'synth.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { ...summary, files: summary.files + 1 };
}
