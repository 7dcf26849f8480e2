import { basename, join } from 'node:path';
import { imageFiles, isDir, isFile, stem, subdirs } from './fsutil.js';
import { selectCategories } from './mvtec.js';
import { type Dataset, DatasetLayoutError, type DatasetSample } from './types.js';

const NORMAL_NAMES = ['good', 'ok', 'normal'];
const MASK_DIRS = ['ground_truth', 'masks'];

const EXPECTED =
  'expected a folder with normal images in good/ (or ok/, normal/) and defective images in any other ' +
  'sub-folder (bad/, or one per defect type), optional masks in ground_truth/<defect>/<name>_mask.png; ' +
  'or one such folder per category';

async function normalDir(dir: string): Promise<string | null> {
  for (const n of NORMAL_NAMES) if (await isDir(join(dir, n))) return n;
  return null;
}

export async function looksLikeFolder(root: string): Promise<boolean> {
  if (await normalDir(root)) return true;
  for (const name of await subdirs(root)) if (await normalDir(join(root, name))) return true;
  return false;
}

async function findMask(dir: string, defect: string, imageName: string): Promise<string | null> {
  for (const m of MASK_DIRS) {
    for (const candidate of [`${stem(imageName)}_mask.png`, `${stem(imageName)}.png`]) {
      const p = join(dir, m, defect, candidate);
      if (await isFile(p)) return p;
    }
  }
  return null;
}

async function loadCategory(name: string, dir: string): Promise<DatasetSample[]> {
  const good = await normalDir(dir);
  if (!good) throw new DatasetLayoutError(`category ${name}: no good/ folder in ${dir}; ${EXPECTED}`, dir);
  const samples: DatasetSample[] = [];
  for (const f of await imageFiles(join(dir, good))) {
    samples.push({
      category: name,
      split: 'test',
      defect: 'good',
      imagePath: join(dir, good, f),
      maskPath: null,
      label: 0,
    });
  }
  for (const defect of await subdirs(dir)) {
    if (defect === good || MASK_DIRS.includes(defect)) continue;
    for (const f of await imageFiles(join(dir, defect))) {
      const maskPath = await findMask(dir, defect, f);
      samples.push({
        category: name,
        split: 'test',
        defect,
        imagePath: join(dir, defect, f),
        maskPath,
        label: 1,
      });
    }
  }
  if (!samples.some((s) => s.label === 0)) {
    throw new DatasetLayoutError(
      `category ${name}: ${join(dir, good)} has no images; ${EXPECTED}`,
      join(dir, good),
    );
  }
  return samples;
}

export async function loadFolder(root: string, categories?: readonly string[]): Promise<Dataset> {
  const found: Array<{ name: string; dir: string }> = [];
  if (await normalDir(root)) found.push({ name: basename(root), dir: root });
  else {
    for (const name of await subdirs(root)) {
      if (await normalDir(join(root, name))) found.push({ name, dir: join(root, name) });
    }
  }
  if (found.length === 0) throw new DatasetLayoutError(`no good/ folder found in ${root}; ${EXPECTED}`, root);
  const chosen = selectCategories(found, categories, root);
  const samples: DatasetSample[] = [];
  for (const { name, dir } of chosen) samples.push(...(await loadCategory(name, dir)));
  return { root, layout: 'folder', categories: chosen.map((c) => c.name), samples };
}
