/**
 * Reading a dataset in MVTec AD layout (the layout `GET /datasets/{id}/export.tar` writes and `tools.diad` reads):
 *
 *   <category>/train/good/<name>.png|jpg        normal images for training
 *   <category>/test/good/<name>.png|jpg         normal images for validation
 *   <category>/test/<defect>/<name>.png|jpg     defective images for validation (one folder per defect type)
 *   <category>/ground_truth/<defect>/<name>_mask.png   optional masks of those defects
 *
 * Pure: it sees only the archive's file paths and says which file is what, or refuses naming the path. Plain-text
 * files beside the category (MVTec's own `license.txt`, `readme.txt`) are skipped; anything else is refused, so a
 * mistyped folder never silently drops images.
 */

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

export interface PlannedImage {
  path: string;
  split: 'train' | 'validation';
  label: 'normal' | 'defect';
  /** Defect folder name for defects (e.g. "scratch"), null for normal images. */
  defectType: string | null;
  /** Path of the mask that belongs to this image, when the archive has one. */
  maskPath: string | null;
}

export interface ImportPlan {
  category: string;
  images: PlannedImage[];
  /** Paths skipped on purpose (text files beside the category). */
  skipped: string[];
}

/** A layout the importer cannot take; the message names the path and what was expected. */
export class LayoutError extends Error {
  override name = 'LayoutError';
}

const isImage = (name: string) => IMAGE_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e));
const stem = (name: string) => name.replace(/\.[^.]+$/, '');

/** What each file of an archive is, from its normalised paths (as the tar reader reports them). */
export function planMvtecImport(paths: string[]): ImportPlan {
  const skipped: string[] = [];
  const files: string[] = [];
  for (const p of paths) {
    if (!p.includes('/') && p.toLowerCase().endsWith('.txt')) skipped.push(p);
    else files.push(p);
  }
  const roots = [...new Set(files.map((p) => p.split('/')[0]))].sort();
  if (roots.length === 0)
    throw new LayoutError('archive: no category folder (expected <category>/train/good/…)');
  if (roots.length > 1)
    throw new LayoutError(
      `archive: expected one category folder, found ${roots.length} (${roots.slice(0, 5).join(', ')}); import one category at a time`,
    );
  const category = roots[0];
  const images = new Map<string, PlannedImage>();
  const masks: Array<{ path: string; defect: string; stem: string }> = [];
  for (const p of files) {
    const parts = p.split('/');
    if (parts.length === 1)
      throw new LayoutError(`"${p}": a file at the top of the archive; expected ${category}/train/good/…`);
    const [, area, kind, ...rest] = parts;
    const file = rest.join('/');
    if (parts.length === 2 && p.toLowerCase().endsWith('.txt')) {
      skipped.push(p);
      continue;
    }
    if (rest.length !== 1 || !kind || !file)
      throw new LayoutError(
        `"${p}": not in the MVTec layout; expected ${category}/train/good/<image>, ${category}/test/<good|defect>/<image> or ${category}/ground_truth/<defect>/<name>_mask.png`,
      );
    if (area === 'ground_truth') {
      if (kind === 'good')
        throw new LayoutError(`"${p}": a mask for a good image; masks mark defects (ground_truth/<defect>/)`);
      if (!file.toLowerCase().endsWith('_mask.png'))
        throw new LayoutError(`"${p}": expected a mask named <image name>_mask.png`);
      masks.push({ path: p, defect: kind, stem: file.slice(0, -'_mask.png'.length) });
      continue;
    }
    if (area !== 'train' && area !== 'test')
      throw new LayoutError(
        `"${p}": unknown folder "${category}/${area}"; expected ${category}/train, ${category}/test or ${category}/ground_truth`,
      );
    if (!isImage(file))
      throw new LayoutError(`"${p}": not an image name; expected ${IMAGE_EXTENSIONS.join(', ')}`);
    if (area === 'train' && kind !== 'good')
      throw new LayoutError(
        `"${p}": training images must be normal, in ${category}/train/good (defects go to ${category}/test/<defect>)`,
      );
    const defect = kind !== 'good';
    images.set(p, {
      path: p,
      split: area === 'train' ? 'train' : 'validation',
      label: defect ? 'defect' : 'normal',
      defectType: defect ? kind : null,
      maskPath: null,
    });
  }
  // A mask belongs to the test image of the same defect folder and name (any image extension).
  const byStem = new Map<string, PlannedImage[]>();
  for (const img of images.values()) {
    if (!img.defectType) continue;
    const key = `${img.defectType}/${stem(img.path.split('/').pop()!)}`;
    byStem.set(key, [...(byStem.get(key) ?? []), img]);
  }
  for (const m of masks) {
    const found = byStem.get(`${m.defect}/${m.stem}`) ?? [];
    if (found.length > 1)
      throw new LayoutError(
        `"${m.path}": fits ${found
          .map((i) => i.path)
          .sort()
          .join(' and ')}; give the images different names`,
      );
    const img = found[0];
    if (!img)
      throw new LayoutError(
        `"${m.path}": a mask without an image; expected ${category}/test/${m.defect}/${m.stem}.png (or .jpg)`,
      );
    if (img.maskPath) throw new LayoutError(`"${m.path}": a second mask for ${img.path}`);
    img.maskPath = m.path;
  }
  const planned = [...images.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  if (!planned.some((i) => i.split === 'train'))
    throw new LayoutError(`archive: no training images; expected normal images in ${category}/train/good/`);
  return { category, images: planned, skipped };
}
