import { basename, join } from 'node:path';
import { imageFiles, isDir, isFile, subdirs } from './fsutil.js';
import { selectCategories } from './mvtec.js';
import { type Dataset, DatasetLayoutError, type DatasetSample, type SampleSplit } from './types.js';

const EXPECTED =
  'expected MVTec 3D-AD layout <root>/<category>/{train,validation,test}/<defect>/rgb/*.png with masks in ' +
  '<root>/<category>/test/<defect>/gt/*.png (only the RGB images are used)';

async function isCategory(dir: string): Promise<boolean> {
  return isDir(join(dir, 'train', 'good', 'rgb'));
}

export async function looksLikeMvtec3d(root: string): Promise<boolean> {
  if (await isCategory(root)) return true;
  for (const name of await subdirs(root)) if (await isCategory(join(root, name))) return true;
  return false;
}

async function loadCategory(name: string, dir: string): Promise<DatasetSample[]> {
  const samples: DatasetSample[] = [];
  for (const split of ['train', 'validation', 'test'] as const satisfies readonly SampleSplit[]) {
    const splitDir = join(dir, split);
    if (!(await isDir(splitDir))) {
      if (split === 'validation') continue;
      throw new DatasetLayoutError(`category ${name}: missing folder ${splitDir}; ${EXPECTED}`, splitDir);
    }
    for (const defect of await subdirs(splitDir)) {
      const rgbDir = join(splitDir, defect, 'rgb');
      if (!(await isDir(rgbDir))) {
        throw new DatasetLayoutError(`category ${name}: missing folder ${rgbDir}; ${EXPECTED}`, rgbDir);
      }
      const isGood = defect === 'good';
      for (const f of await imageFiles(rgbDir)) {
        let maskPath: string | null = null;
        if (!isGood) {
          maskPath = join(splitDir, defect, 'gt', f);
          if (!(await isFile(maskPath))) {
            throw new DatasetLayoutError(
              `category ${name}: no mask for ${join(rgbDir, f)}; expected ${maskPath}`,
              maskPath,
            );
          }
        }
        samples.push({
          category: name,
          split,
          defect,
          imagePath: join(rgbDir, f),
          maskPath,
          label: isGood ? 0 : 1,
        });
      }
    }
  }
  if (!samples.some((s) => s.split === 'test')) {
    throw new DatasetLayoutError(
      `category ${name}: no test images in ${join(dir, 'test')}; ${EXPECTED}`,
      dir,
    );
  }
  return samples;
}

export async function loadMvtec3d(root: string, categories?: readonly string[]): Promise<Dataset> {
  const found: Array<{ name: string; dir: string }> = [];
  if (await isCategory(root)) found.push({ name: basename(root), dir: root });
  else {
    for (const name of await subdirs(root)) {
      if (await isCategory(join(root, name))) found.push({ name, dir: join(root, name) });
    }
  }
  if (found.length === 0)
    throw new DatasetLayoutError(`no MVTec 3D-AD category found in ${root}; ${EXPECTED}`, root);
  const chosen = selectCategories(found, categories, root);
  const samples: DatasetSample[] = [];
  for (const { name, dir } of chosen) samples.push(...(await loadCategory(name, dir)));
  return { root, layout: 'mvtec3d', categories: chosen.map((c) => c.name), samples };
}
