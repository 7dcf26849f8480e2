/**
 * Synthetic dataset generation speed: renders and writes the default dataset (5 categories, 200 train +
 * 60 test images each, 256 px) into a temp folder and prints the time. Run:
 *   npx tsx --conditions=@diad/source bench/synth.ts [--tier easy|hard] [--size 256]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSynthDataset, renderSample, type Tier } from '@diad/datasets';

const { values } = parseArgs({ options: { tier: { type: 'string' }, size: { type: 'string' } } });
const tier = (values.tier ?? 'easy') as Tier;
const size = Number(values.size ?? 256);

// rendering alone, without PNG encoding or disk
const t0 = performance.now();
let n = 0;
for (const category of ['fabric', 'wood', 'tile', 'hex_nut', 'bottle_cap']) {
  for (let i = 0; i < 20; i++) {
    renderSample({ category, seed: 1, size, tier, split: 'train', index: i, defect: null });
    n++;
  }
}
const renderMs = (performance.now() - t0) / n;

const out = await mkdtemp(join(tmpdir(), 'diad-bench-synth-'));
try {
  const t1 = performance.now();
  const summary = await generateSynthDataset({ out, seed: 1, tier, size });
  const seconds = (performance.now() - t1) / 1000;
  const images = Object.values(summary.categories).reduce(
    (s, c) => s + c.train + c.testGood + Object.values(c.testDefective).reduce((a, b) => a + b, 0),
    0,
  );
  console.log(`render only: ${renderMs.toFixed(1)} ms per ${size}px image`);
  console.log(
    `full dataset (${tier}, ${size}px): ${images} images, ${summary.files} files in ${seconds.toFixed(1)} s ` +
      `(${((1000 * seconds) / images).toFixed(1)} ms per image, rendering + PNG + disk)`,
  );
} finally {
  await rm(out, { recursive: true, force: true });
}
