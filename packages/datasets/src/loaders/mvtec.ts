import { basename, join } from 'node:path';
import { imageFiles, isDir, isFile, stem, subdirs } from './fsutil.js';
import { type Dataset, DatasetLayoutError, type DatasetSample } from './types.js';

const EXPECTED =
  'expected MVTec-AD layout <root>/<category>/train/good/*.png, <root>/<category>/test/<defect>/*.png and ' +
  '<root>/<category>/ground_truth/<defect>/<name>_mask.png';

async function isMvtecCategory(dir: string): Promise<boolean> {
  return (await isDir(join(dir, 'train'))) && (await isDir(join(dir, 'test')));
}

/** Category folders under root; root itself when it is a single category folder. */
export async function mvtecCategoryDirs(root: string): Promise<Array<{ name: string; dir: string }>> {
  if (await isMvtecCategory(root)) return [{ name: basename(root), dir: root }];
  const found: Array<{ name: string; dir: string }> = [];
  for (const name of await subdirs(root)) {
    if (await isMvtecCategory(join(root, name))) found.push({ name, dir: join(root, name) });
  }
  return found;
}

async function findMask(gtDir: string, imageName: string): Promise<string | null> {
  for (const candidate of [`${stem(imageName)}_mask.png`, `${stem(imageName)}.png`]) {
    const p = join(gtDir, candidate);
    if (await isFile(p)) return p;
  }
  return null;
}

export async function loadMvtecCategory(name: string, dir: string): Promise<DatasetSample[]> {
  const samples: DatasetSample[] = [];
  const trainGood = join(dir, 'train', 'good');
  if (!(await isDir(trainGood))) {
    throw new DatasetLayoutError(`category ${name}: missing folder ${trainGood}; ${EXPECTED}`, trainGood);
  }
  for (const f of await imageFiles(trainGood)) {
    samples.push({
      category: name,
      split: 'train',
      defect: 'good',
      imagePath: join(trainGood, f),
      maskPath: null,
      label: 0,
    });
  }
  const testDir = join(dir, 'test');
  const defects = await subdirs(testDir);
  if (defects.length === 0) {
    throw new DatasetLayoutError(`category ${name}: ${testDir} has no defect folders; ${EXPECTED}`, testDir);
  }
  for (const defect of defects) {
    const folder = join(testDir, defect);
    const gtDir = join(dir, 'ground_truth', defect);
    const isGood = defect === 'good';
    if (!isGood && !(await isDir(gtDir))) {
      throw new DatasetLayoutError(
        `category ${name}: defect "${defect}" has no mask folder ${gtDir}; ${EXPECTED}`,
        gtDir,
      );
    }
    for (const f of await imageFiles(folder)) {
      const imagePath = join(folder, f);
      let maskPath: string | null = null;
      if (!isGood) {
        maskPath = await findMask(gtDir, f);
        if (!maskPath) {
          const want = join(gtDir, `${stem(f)}_mask.png`);
          throw new DatasetLayoutError(`category ${name}: no mask for ${imagePath}; expected ${want}`, want);
        }
      }
      samples.push({ category: name, split: 'test', defect, imagePath, maskPath, label: isGood ? 0 : 1 });
    }
  }
  if (!samples.some((s) => s.split === 'test')) {
    throw new DatasetLayoutError(`category ${name}: no test images under ${testDir}; ${EXPECTED}`, testDir);
  }
  return samples;
}

export async function loadMvtec(root: string, categories?: readonly string[]): Promise<Dataset> {
  const dirs = await mvtecCategoryDirs(root);
  if (dirs.length === 0) {
    throw new DatasetLayoutError(`no MVTec-AD category folder found in ${root}; ${EXPECTED}`, root);
  }
  const chosen = selectCategories(dirs, categories, root);
  const samples: DatasetSample[] = [];
  for (const { name, dir } of chosen) samples.push(...(await loadMvtecCategory(name, dir)));
  return { root, layout: 'mvtec', categories: chosen.map((c) => c.name), samples };
}

export function selectCategories<T extends { name: string }>(
  found: T[],
  wanted: readonly string[] | undefined,
  root: string,
): T[] {
  if (!wanted || wanted.length === 0) return found;
  return wanted.map((w) => {
    const hit = found.find((f) => f.name === w);
    if (!hit) {
      throw new DatasetLayoutError(
        `category "${w}" not found in ${root}; found: ${found.map((f) => f.name).join(', ') || 'none'}`,
        join(root, w),
      );
    }
    return hit;
  });
}
