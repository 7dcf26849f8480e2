import { loadFolder, looksLikeFolder } from './folder.js';
import { isDir } from './fsutil.js';
import { loadMvtec, mvtecCategoryDirs } from './mvtec.js';
import { loadMvtec3d, looksLikeMvtec3d } from './mvtec3d.js';
import {
  DATASET_LAYOUTS,
  type Dataset,
  type DatasetLayout,
  DatasetLayoutError,
  type LoadOptions,
} from './types.js';
import { loadVisa, looksLikeVisa } from './visa.js';

export { loadFolder } from './folder.js';
export { IMAGE_EXTENSIONS } from './fsutil.js';
export { loadMvtec } from './mvtec.js';
export { loadMvtec3d } from './mvtec3d.js';
export * from './types.js';
export { loadVisa, VISA_DEFAULT_CSV } from './visa.js';

/** Guesses the layout of a dataset folder; throws DatasetLayoutError listing what each layout expects. */
export async function detectLayout(root: string): Promise<DatasetLayout> {
  if (!(await isDir(root)))
    throw new DatasetLayoutError(`dataset folder ${root} does not exist or is not a folder`, root);
  if (await looksLikeVisa(root)) return 'visa';
  if (await looksLikeMvtec3d(root)) return 'mvtec3d';
  if ((await mvtecCategoryDirs(root)).length > 0) return 'mvtec';
  if (await looksLikeFolder(root)) return 'folder';
  throw new DatasetLayoutError(
    `cannot tell the layout of ${root}: expected <category>/train/good + <category>/test/<defect> (mvtec), ` +
      'split_csv/1cls.csv (visa), <category>/train/good/rgb (mvtec3d), or good/ + bad/ folders (folder)',
    root,
  );
}

/** Loads a dataset in the given layout (detected when omitted). */
export async function loadDataset(
  root: string,
  opts: LoadOptions & { layout?: DatasetLayout } = {},
): Promise<Dataset> {
  if (typeof root !== 'string' || root.length === 0)
    throw new TypeError('dataset root must be a folder path');
  if (opts.layout !== undefined && !DATASET_LAYOUTS.includes(opts.layout)) {
    throw new RangeError(`layout must be one of ${DATASET_LAYOUTS.join(', ')}, got "${opts.layout}"`);
  }
  if (!(await isDir(root)))
    throw new DatasetLayoutError(`dataset folder ${root} does not exist or is not a folder`, root);
  const layout = opts.layout ?? (await detectLayout(root));
  switch (layout) {
    case 'mvtec':
      return loadMvtec(root, opts.categories);
    case 'visa':
      return loadVisa(root, opts.categories);
    case 'mvtec3d':
      return loadMvtec3d(root, opts.categories);
    case 'folder':
      return loadFolder(root, opts.categories);
  }
}

export type { Dataset };
