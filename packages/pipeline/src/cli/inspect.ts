import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { PROVIDERS, type Provider } from '../backend/types.js';
import { DiadPipeline, type InspectionOutput } from '../pipeline.js';

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const INSPECT_USAGE = `usage: diad inspect --bundle <dir|tar> [--seed N] [--steps N] [--start-step T] [--draws N] [--heatmaps <dir>]
                    [--json] [--providers cuda,cpu] [--threads N] <image…>
Prints one JSON line per image (score, verdict, normalised score, defect area, timings, model, provider).
Without --json, the line leaves out the per-stage timings. Unreadable images get a one-line error on stderr;
the exit code is 1 if any image failed, 2 for a usage or bundle error.`;

function intArg(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min)
    throw new RangeError(`--${name}: expected an integer >= ${min}, got "${v}"`);
  return Number(v);
}

function line(path: string, o: InspectionOutput, json: boolean, heatmap?: string): string {
  const base: Record<string, unknown> = {
    image: path,
    score: o.score,
    verdict: o.verdict,
    normalizedScore: o.normalizedScore,
    defectAreaPx: o.defectAreaPx,
    thresholds: o.thresholds,
    model: o.model,
    provider: o.provider,
  };
  if (heatmap) base.heatmap = heatmap;
  if (json) base.timingsMs = o.timingsMs;
  else base.totalMs = Math.round(o.timingsMs.total * 10) / 10;
  return `${JSON.stringify(base)}\n`;
}

/** `diad inspect`: returns the exit code (0 all inspected, 1 some image failed, 2 usage/bundle error). */
export async function inspectCommand(argv: string[], io: CommandIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        bundle: { type: 'string' },
        seed: { type: 'string' },
        steps: { type: 'string' },
        draws: { type: 'string' },
        'start-step': { type: 'string' },
        heatmaps: { type: 'string' },
        json: { type: 'boolean', default: false },
        providers: { type: 'string' },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    io.stderr.write(`diad inspect: ${(e as Error).message}\n${INSPECT_USAGE}\n`);
    return 2;
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) {
    io.stdout.write(`${INSPECT_USAGE}\n`);
    return 0;
  }
  let seed: number | undefined;
  let steps: number | undefined;
  let startStep: number | undefined;
  let draws: number | undefined;
  let threads: number | undefined;
  let providers: Provider[] | undefined;
  try {
    if (typeof v.bundle !== 'string') throw new TypeError('--bundle: required (a bundle directory or .tar)');
    if (parsed.positionals.length === 0) throw new TypeError('expected at least one image path');
    seed = intArg('seed', v.seed as string | undefined, 0);
    steps = intArg('steps', v.steps as string | undefined, 1);
    startStep = intArg('start-step', v['start-step'] as string | undefined, 0);
    draws = intArg('draws', v.draws as string | undefined, 1);
    threads = intArg('threads', v.threads as string | undefined, 0);
    if (typeof v.providers === 'string') {
      providers = v.providers.split(',').map((p) => p.trim()) as Provider[];
      const bad = providers.find((p) => !PROVIDERS.includes(p));
      if (bad !== undefined)
        throw new RangeError(`--providers: unknown provider "${bad}" (expected tensorrt, cuda, cpu)`);
    }
  } catch (e) {
    io.stderr.write(`diad inspect: ${(e as Error).message}\n${INSPECT_USAGE}\n`);
    return 2;
  }

  const logger = pino({ level: 'warn', base: undefined }, io.stderr);
  let pipeline: DiadPipeline;
  try {
    pipeline = await DiadPipeline.create(v.bundle as string, { providers, threads, logger });
  } catch (e) {
    io.stderr.write(`diad inspect: ${(e as Error).message}\n`);
    return 2;
  }
  const heatmaps = typeof v.heatmaps === 'string' ? v.heatmaps : undefined;
  if (heatmaps) await mkdir(heatmaps, { recursive: true });
  let failed = 0;
  try {
    for (const image of parsed.positionals) {
      try {
        const out = await pipeline.inspect(image, { seed, steps, startStep, draws });
        let heatmapPath: string | undefined;
        if (heatmaps) {
          heatmapPath = join(heatmaps, `${basename(image, extname(image))}.heatmap.png`);
          await writeFile(heatmapPath, await pipeline.heatmapPng(image, out));
        }
        io.stdout.write(line(image, out, v.json === true, heatmapPath));
      } catch (e) {
        failed++;
        const msg = ((e as Error).message ?? String(e)).replace(/\s*\n\s*/g, ' ');
        io.stderr.write(`diad inspect: ${msg.includes(image) ? msg : `${image}: ${msg}`}\n`);
      }
    }
  } finally {
    await pipeline.close();
  }
  return failed > 0 ? 1 : 0;
}
