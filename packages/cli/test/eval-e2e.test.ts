import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSynthDataset } from '@diad/datasets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diad, tempDir } from './helpers.js';

// The tiny hand-made ONNX bundle of the pipeline's tests: real ONNX Runtime sessions, known arithmetic.
const tinyBundleHelper = fileURLToPath(
  new URL('../../pipeline/test/helpers/tiny-bundle.ts', import.meta.url),
);
const pipelineReady = existsSync(tinyBundleHelper);

describe.runIf(pipelineReady)('diad eval end to end (tiny bundle, synthetic dataset)', () => {
  const dirs: string[] = [];
  let bundle: string;
  let dataset: string;
  let out: string;
  let first: Awaited<ReturnType<typeof diad>>;

  beforeAll(async () => {
    const root = await tempDir('e2e');
    dirs.push(root);
    bundle = join(root, 'bundle');
    dataset = join(root, 'data');
    out = join(root, 'report');
    const { writeTinyBundle } = (await import(tinyBundleHelper)) as {
      writeTinyBundle: (dir: string) => Promise<unknown>;
    };
    await writeTinyBundle(bundle);
    await generateSynthDataset({
      out: dataset,
      seed: 8,
      size: 48,
      train: 1,
      test: 6,
      categories: ['wood', 'hex_nut'],
    });
    first = await diad(
      'eval',
      '--bundle',
      bundle,
      '--dataset',
      dataset,
      '--out',
      out,
      '--paper',
      '--heatmaps',
      '1',
    );
  });
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('prints the paper-layout table and writes every report file', async () => {
    expect(first.stderr).toContain('diad eval: 12 test images in 2 categories (mvtec layout)');
    expect(first.stderr).toContain('12/12 100%');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/\| Category \| Image AUROC\/AP\/F1max \| Pixel AUROC\/AP\/F1max\/AUPRO \|/);
    expect(first.stdout).toMatch(/\| Mean \| [\d.]+\/[\d.]+\/[\d.]+ \| [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ \|/);
    // a synthetic "wood" is not MVTec-AD wood
    expect(first.stdout).toContain('synthetic dataset (synth.json)');
    const files = await readdir(out);
    for (const f of ['report.json', 'report.md', 'report.csv', 'scores.csv', 'plots', 'heatmaps', 'cache'])
      expect(files).toContain(f);
    expect((await readdir(join(out, 'plots'))).sort()).toEqual([
      'pro_hex_nut.png',
      'pro_wood.png',
      'roc_hex_nut.png',
      'roc_wood.png',
    ]);
    expect((await readdir(join(out, 'heatmaps', 'wood'))).length).toBe(4); // good + 3 defect types (1 each)
  });

  it('reports DiAD and both baselines with metrics in [0, 1], timings and calibration', async () => {
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(Object.keys(report.methods)).toEqual(['diad', 'autoencoder', 'pixel']);
    for (const m of Object.values(report.methods) as Array<{
      categories: Array<{ category: string; images: number; pixel: object }>;
    }>) {
      expect(m.categories.map((c) => [c.category, c.images])).toEqual([
        ['hex_nut', 6],
        ['wood', 6],
      ]);
      for (const c of m.categories) {
        for (const v of [
          ...Object.values((c as never as { image: object }).image),
          ...Object.values(c.pixel),
        ]) {
          expect(Number.isFinite(v)).toBe(true);
        }
      }
    }
    expect(report.timing.diad.images).toBe(12);
    expect(report.timing.diad.meanMs).toBeGreaterThan(0);
    expect(report.calibration.perCategory.wood.atMaxF1.f1).toBeGreaterThan(0);
    expect(report.bundle.name).toBe('tiny-test');
    const scores = (await readFile(join(out, 'scores.csv'), 'utf8')).trim().split('\n');
    expect(scores).toHaveLength(13);
    expect(scores[0]).toBe(
      'category,defect,label,image,diad_score,autoencoder_score,pixel_score,diad_ms,verdict_at_max_f1,cached',
    );
  });

  it('resumes from the cache: same numbers, nothing recomputed; a torn cache line is recomputed alone', async () => {
    const before = await readFile(join(out, 'report.csv'), 'utf8');
    const again = await diad(
      'eval',
      '--bundle',
      bundle,
      '--dataset',
      dataset,
      '--out',
      out,
      '--heatmaps',
      '0',
    );
    expect(again.code).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'report.json'), 'utf8')).cacheHits).toBe(12);
    expect(await readFile(join(out, 'report.csv'), 'utf8')).toBe(before);
    const index = join(out, 'cache', 'results.jsonl');
    const lines = (await readFile(index, 'utf8')).trim().split('\n');
    await writeFile(index, `${lines.slice(0, -1).join('\n')}\n${lines[lines.length - 1].slice(0, 20)}`);
    const third = await diad(
      'eval',
      '--bundle',
      bundle,
      '--dataset',
      dataset,
      '--out',
      out,
      '--heatmaps',
      '0',
    );
    expect(third.code).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'report.json'), 'utf8')).cacheHits).toBe(11);
    expect(await readFile(join(out, 'report.csv'), 'utf8')).toBe(before);
  });

  it('shares results of identical images between runs through --cache (the two synthetic tiers share good images)', async () => {
    const hard = join(out, '..', 'hard');
    const cache = join(out, '..', 'shared-cache');
    await generateSynthDataset({
      out: hard,
      seed: 8,
      size: 48,
      train: 1,
      test: 6,
      categories: ['wood', 'hex_nut'],
      tier: 'hard',
    });
    const a = await diad(
      'eval',
      '--bundle',
      bundle,
      '--dataset',
      dataset,
      '--out',
      join(out, '..', 'r-easy'),
      '--cache',
      cache,
      '--heatmaps',
      '0',
    );
    const b = await diad(
      'eval',
      '--bundle',
      bundle,
      '--dataset',
      hard,
      '--out',
      join(out, '..', 'r-hard'),
      '--cache',
      cache,
      '--heatmaps',
      '0',
    );
    expect([a.code, b.code]).toEqual([0, 0]);
    const report = JSON.parse(await readFile(join(out, '..', 'r-hard', 'report.json'), 'utf8'));
    expect(report.cacheHits).toBe(6); // 3 good test images per category
  });

  it('names a test image the pipeline cannot decode, keeps what was computed, and the CLI reruns', async () => {
    const broken = join(out, '..', 'broken');
    await generateSynthDataset({ out: broken, seed: 8, size: 48, train: 1, test: 2, categories: ['wood'] });
    const bad = join(broken, 'wood', 'test', 'good', '000.png');
    await writeFile(bad, 'not a png');
    const r = await diad(
      'eval',
      '--bundle',
      bundle,
      '--dataset',
      broken,
      '--out',
      join(out, '..', 'r-broken'),
      '--heatmaps',
      '0',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`diad eval: ${bad}:`);
    expect(r.stderr).not.toContain('    at ');
  });

  it('evaluates a good/bad folder without masks: image metrics only, and says why', async () => {
    const folder = join(out, '..', 'folder');
    for (const [from, to] of [
      ['test/good/000.png', 'good/a.png'],
      ['test/good/001.png', 'good/b.png'],
      ['test/hole/000.png', 'bad/c.png'],
      ['test/crack/000.png', 'bad/d.png'],
    ]) {
      await mkdir(join(folder, to, '..'), { recursive: true });
      await copyFile(join(dataset, 'wood', from), join(folder, to));
    }
    const r = await diad(
      'eval',
      '--bundle',
      bundle,
      '--dataset',
      folder,
      '--out',
      join(out, '..', 'r-folder'),
      '--heatmaps',
      '0',
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, '..', 'r-folder', 'report.json'), 'utf8'));
    expect(report.dataset.layout).toBe('folder');
    expect(report.methods.diad.categories[0].pixel).toBeNull();
    expect(report.methods.diad.mean.pixel).toBeNull();
    expect(Object.values(report.noPixelMetrics)[0]).toMatch(/no ground-truth mask for .*bad\/c\.png/);
    expect(await readdir(join(out, '..', 'r-folder', 'plots'))).toEqual(['roc_folder.png']);
  });

  it('delegates diad inspect to the pipeline', async () => {
    const r = await diad('inspect', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/inspect/);
  });

  it('--limit keeps both classes per category', async () => {
    const r = await diad(
      'eval',
      '--bundle',
      bundle,
      '--dataset',
      dataset,
      '--out',
      join(out, 'limited'),
      '--limit',
      '2',
      '--methods',
      'diad',
      '--heatmaps',
      '0',
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'limited', 'report.json'), 'utf8'));
    expect(Object.keys(report.methods)).toEqual(['diad']);
    expect(
      report.methods.diad.categories.map((c: { images: number; anomalousImages: number }) => [
        c.images,
        c.anomalousImages,
      ]),
    ).toEqual([
      [2, 1],
      [2, 1],
    ]);
  });
});
