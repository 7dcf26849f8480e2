export type DatasetLayout = 'mvtec' | 'visa' | 'mvtec3d' | 'folder';
export const DATASET_LAYOUTS: readonly DatasetLayout[] = ['mvtec', 'visa', 'mvtec3d', 'folder'];

export type SampleSplit = 'train' | 'validation' | 'test';

/** One image of a dataset. */
export interface DatasetSample {
  category: string;
  split: SampleSplit;
  /** Defect type folder ('good' for normal images). */
  defect: string;
  imagePath: string;
  /** Ground-truth mask (any pixel > 0 is defective); null for normal images and unannotated defects. */
  maskPath: string | null;
  /** 0 = normal, 1 = anomalous. */
  label: 0 | 1;
}

export interface Dataset {
  root: string;
  layout: DatasetLayout;
  categories: string[];
  samples: DatasetSample[];
}

export interface LoadOptions {
  /** Keep only these categories; an unknown name is an error. */
  categories?: readonly string[];
}

/** The dataset on disk does not have the layout that was asked for; `path` is where the problem was found. */
export class DatasetLayoutError extends Error {
  override name = 'DatasetLayoutError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}
