import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import {
  generateSynthDataset,
  loadMvtec,
  planSynthDataset,
  renderSample,
  SYNTH_CATEGORIES,
  type Tier,
} from '../src/index.js';
import { tempDir } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function hashTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else
        out.set(
          relative(root, p),
          createHash('sha256')
            .update(await readFile(p))
            .digest('hex'),
        );
    }
  };
  await walk(root);
  return out;
}

const tiny = { size: 64, train: 2, test: 8 };

describe('generateSynthDataset', () => {
  it('writes byte-identical files for the same seed and different ones for another seed', async () => {
    const [a, b, c] = [await tempDir('synth-a'), await tempDir('synth-b'), await tempDir('synth-c')];
    dirs.push(a, b, c);
    await generateSynthDataset({ out: a, seed: 11, ...tiny });
    await generateSynthDataset({ out: b, seed: 11, ...tiny });
    await generateSynthDataset({ out: c, seed: 12, ...tiny });
    const [ha, hb, hc] = [await hashTree(a), await hashTree(b), await hashTree(c)];
    // 5 categories x (2 train + 8 test + 4 masks) + synth.json
    expect(ha.size).toBe(5 * 14 + 1);
    expect([...hb.entries()]).toEqual([...ha.entries()]);
    const pngs = [...ha.keys()].filter((k) => k.endsWith('.png'));
    const same = pngs.filter((k) => hc.get(k) === ha.get(k));
    expect(same).toEqual([]);
  });

  it('writes an MVTec-AD layout that the loader reads back, masks single-channel and binary', async () => {
    const out = await tempDir('synth-layout');
    dirs.push(out);
    const summary = await generateSynthDataset({ out, seed: 3, size: 48, train: 3, test: 6, tier: 'hard' });
    const ds = await loadMvtec(out);
    expect(ds.categories).toEqual(SYNTH_CATEGORIES.map((c) => c.name).sort());
    for (const name of ds.categories) {
      const mine = ds.samples.filter((s) => s.category === name);
      expect(mine.filter((s) => s.split === 'train')).toHaveLength(3);
      expect(mine.filter((s) => s.split === 'test' && s.label === 0)).toHaveLength(3);
      const bad = mine.filter((s) => s.label === 1);
      expect(bad).toHaveLength(3);
      expect(Object.values(summary.categories[name].testDefective).reduce((x, y) => x + y, 0)).toBe(3);
      expect((await sharp(bad[0].maskPath!).metadata()).channels).toBe(1);
      const mask = await sharp(bad[0].maskPath!).raw().toBuffer();
      expect(new Set(mask)).toEqual(new Set([0, 255]));
    }
    const manifest = JSON.parse(await readFile(join(out, 'synth.json'), 'utf8'));
    expect(manifest).toMatchObject({ seed: 3, tier: 'hard', size: 48, layout: 'mvtec' });
  });
});

describe('planSynthDataset', () => {
  it('splits the test set half good, half defective, spread over every defect type', () => {
    const { jobs, summary } = planSynthDataset({
      out: '/x',
      seed: 1,
      categories: ['wood'],
      train: 5,
      test: 60,
    });
    expect(jobs).toHaveLength(65);
    expect(summary.categories.wood.testGood).toBe(30);
    expect(summary.categories.wood.testDefective).toEqual({ scratch: 8, crack: 8, hole: 7, stain: 7 });
  });

  it('rejects bad options naming the option', () => {
    expect(() => planSynthDataset({ out: '/x', seed: -1 })).toThrow(/seed must be an integer/);
    expect(() => planSynthDataset({ out: '/x', seed: 1, categories: ['widget'] })).toThrow(
      /unknown synthetic category "widget".*fabric/,
    );
    expect(() => planSynthDataset({ out: '/x', seed: 1, tier: 'medium' as Tier })).toThrow(RangeError);
    expect(() => planSynthDataset({ out: '/x', seed: 1, train: 1.5 })).toThrow(/train must be an integer/);
    expect(() => planSynthDataset({ out: '', seed: 1 })).toThrow(TypeError);
  });
});

function insideOutside(image: Uint8Array, clean: Uint8Array, mask: Uint8Array) {
  let inside = 0;
  let inCount = 0;
  let outside = 0;
  for (let i = 0; i < mask.length; i++) {
    let d = 0;
    for (let c = 0; c < 3; c++) d += Math.abs(image[i * 3 + c] - clean[i * 3 + c]);
    if (mask[i]) {
      inside += d / 3;
      inCount++;
    } else outside += d;
  }
  return { meanInside: inside / inCount, outside, area: inCount };
}

describe('renderSample', () => {
  const size = 128;
  for (const spec of SYNTH_CATEGORIES) {
    for (const tier of ['easy', 'hard'] as const) {
      it(`${spec.name} ${tier}: every defect changes exactly the masked pixels`, () => {
        for (const defect of spec.defects[tier]) {
          for (const index of [0, 1, 2]) {
            const s = renderSample({
              category: spec.name,
              seed: 5,
              size,
              tier,
              split: 'test',
              index,
              defect: defect.name,
            });
            const { meanInside, outside, area } = insideOutside(s.image, s.clean, s.mask!);
            expect(outside, `${defect.name} #${index} changed pixels outside its mask`).toBe(0);
            expect(area).toBeGreaterThan(5);
            expect(meanInside, `${defect.name} #${index} is invisible`).toBeGreaterThan(
              tier === 'easy' ? 6 : 1.5,
            );
          }
        }
      });
    }
  }

  it('makes hard defects fainter than easy ones on average', () => {
    const contrast = (tier: Tier) => {
      let sum = 0;
      let n = 0;
      for (const spec of SYNTH_CATEGORIES) {
        for (const defect of spec.defects[tier]) {
          for (const index of [0, 1]) {
            const s = renderSample({
              category: spec.name,
              seed: 9,
              size: 96,
              tier,
              split: 'test',
              index,
              defect: defect.name,
            });
            sum += insideOutside(s.image, s.clean, s.mask!).meanInside;
            n++;
          }
        }
      }
      return sum / n;
    };
    expect(contrast('hard')).toBeLessThan(contrast('easy') * 0.6);
  });

  it('varies normal images (placement, light, noise) and returns clean === image for good samples', () => {
    const a = renderSample({
      category: 'hex_nut',
      seed: 1,
      size: 64,
      tier: 'easy',
      split: 'train',
      index: 0,
      defect: null,
    });
    const b = renderSample({
      category: 'hex_nut',
      seed: 1,
      size: 64,
      tier: 'easy',
      split: 'train',
      index: 1,
      defect: null,
    });
    expect(a.mask).toBeNull();
    expect(a.clean).toBe(a.image);
    let diff = 0;
    for (let i = 0; i < a.image.length; i++) diff += Math.abs(a.image[i] - b.image[i]);
    expect(diff / a.image.length).toBeGreaterThan(2);
  });

  it('keeps normal images the same across tiers (one model serves both test tiers)', () => {
    const req = { category: 'tile', seed: 4, size: 64, split: 'train', index: 3, defect: null } as const;
    expect(renderSample({ ...req, tier: 'easy' }).image).toEqual(
      renderSample({ ...req, tier: 'hard' }).image,
    );
  });

  it('rejects an unknown defect and a bad size', () => {
    const base = { category: 'wood', seed: 1, tier: 'easy', split: 'test', index: 0 } as const;
    expect(() => renderSample({ ...base, size: 64, defect: 'dent' })).toThrow(
      /no easy defect "dent".*scratch/,
    );
    expect(() => renderSample({ ...base, size: 8, defect: null })).toThrow(RangeError);
  });
});
