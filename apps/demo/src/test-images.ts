import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSynthDataset, SYNTH_CATEGORIES } from '@diad/datasets';

export interface TestImage {
  path: string;
  category: string;
  /** "good" or the defect kind, from the dataset's folder name. */
  kind: string;
  defective: boolean;
}

export interface TestImageOptions {
  dir: string;
  seed: number;
  size: number;
  categories?: readonly string[];
  /** Test images per category, half of them defective. */
  perCategory: number;
}

/**
 * The synthetic test images the demo feeds, generated on first use (offline, deterministic: same options, same
 * bytes). A marker file records the options, so a half-written or differently sized set is made again.
 */
export async function ensureTestImages(o: TestImageOptions): Promise<TestImage[]> {
  if (!Number.isInteger(o.size) || o.size < 32 || o.size > 2048)
    throw new RangeError(`size: expected an integer in [32, 2048], got ${o.size}`);
  if (!Number.isInteger(o.perCategory) || o.perCategory < 2 || o.perCategory > 10_000)
    throw new RangeError(`perCategory: expected an integer in [2, 10000], got ${o.perCategory}`);
  const categories = o.categories?.length ? [...o.categories] : SYNTH_CATEGORIES.map((c) => c.name);
  const stamp = JSON.stringify({ seed: o.seed, size: o.size, categories, perCategory: o.perCategory });
  const marker = join(o.dir, 'COMPLETE');
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== stamp) {
    rmSync(o.dir, { recursive: true, force: true });
    await generateSynthDataset({
      out: o.dir,
      seed: o.seed,
      categories,
      size: o.size,
      train: 0,
      test: o.perCategory,
    });
    writeFileSync(marker, stamp);
  }
  return listTestImages(o.dir, categories);
}

function listTestImages(root: string, categories: string[]): TestImage[] {
  const out: TestImage[] = [];
  for (const category of categories) {
    const testDir = join(root, category, 'test');
    for (const kind of readdirSync(testDir).sort()) {
      for (const f of readdirSync(join(testDir, kind)).sort()) {
        if (f.endsWith('.png'))
          out.push({ path: join(testDir, kind, f), category, kind, defective: kind !== 'good' });
      }
    }
  }
  return interleave(out);
}

/** Round-robin over (category, good/defective) groups, so a short run already shows OK and NOK parts. */
function interleave(images: TestImage[]): TestImage[] {
  const groups = new Map<string, TestImage[]>();
  for (const img of images) {
    const key = `${img.category}/${img.defective}`;
    groups.set(key, [...(groups.get(key) ?? []), img]);
  }
  const out: TestImage[] = [];
  const queues = [...groups.values()];
  for (let i = 0; out.length < images.length; i++) for (const q of queues) if (i < q.length) out.push(q[i]);
  return out;
}
