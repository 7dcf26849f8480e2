/**
 * Published DiAD numbers (He et al., AAAI 2024, arXiv 2312.06607), in percent, for `diad eval --paper`.
 *
 * Provenance, stated in every report that prints them:
 * - MVTec-AD mean image AUROC 97.2 / AP 99.0 and pixel AUROC 96.8 / AP 52.6 appear in the DiAD abstract.
 * - Everything else (per-category cells, F1max, AUPRO, all VisA cells) is taken from the DiAD columns of the
 *   per-class tables A8-A11 of Dinomaly (arXiv 2405.14325), which cite DiAD [49] and say the values of compared
 *   methods are drawn from MambaAD. Their means agree with the DiAD abstract; the per-category cells could not be
 *   checked against the DiAD paper's own tables here.
 */

export type PaperDataset = 'mvtec' | 'visa';

/** [image AUROC, AP, F1max], [pixel AUROC, AP, F1max, AUPRO], percent. */
export interface PaperRow {
  image: [number, number, number];
  pixel: [number, number, number, number];
}

export const PAPER_SOURCE =
  'DiAD (AAAI 2024, arXiv 2312.06607). MVTec-AD mean image AUROC/AP and pixel AUROC/AP as in the DiAD ' +
  'abstract; all other cells from the DiAD columns of Dinomaly (arXiv 2405.14325) Tables A8-A11, which cite ' +
  'DiAD and draw compared results from MambaAD: not checked against the DiAD paper tables themselves.';

const row = (image: string, pixel: string): PaperRow => {
  const i = image.split('/').map(Number) as [number, number, number];
  const p = pixel.split('/').map(Number) as [number, number, number, number];
  return { image: i, pixel: p };
};

export const PAPER_DIAD: Record<PaperDataset, Record<string, PaperRow>> = {
  mvtec: {
    bottle: row('99.7/96.5/91.8', '98.4/52.2/54.8/86.6'),
    cable: row('94.8/98.8/95.2', '96.8/50.1/57.8/80.5'),
    capsule: row('89.0/97.5/95.5', '97.1/42.0/45.3/87.2'),
    hazelnut: row('99.5/99.7/97.3', '98.3/79.2/80.4/91.5'),
    metal_nut: row('99.1/96.0/91.6', '97.3/30.0/38.3/90.6'),
    pill: row('95.7/98.5/94.5', '95.7/46.0/51.4/89.0'),
    screw: row('90.7/99.7/97.9', '97.9/60.6/59.6/95.0'),
    toothbrush: row('99.7/99.9/99.2', '99.0/78.7/72.8/95.0'),
    transistor: row('99.8/99.6/97.4', '95.1/15.6/31.7/90.0'),
    zipper: row('95.1/99.1/94.4', '96.2/60.7/60.0/91.6'),
    carpet: row('99.4/99.9/98.3', '98.6/42.2/46.4/90.6'),
    grid: row('98.5/99.8/97.7', '96.6/66.0/64.1/94.0'),
    leather: row('99.8/99.7/97.6', '98.8/56.1/62.3/91.3'),
    tile: row('96.8/99.9/98.4', '92.4/65.7/64.1/90.7'),
    wood: row('99.7/100.0/100.0', '93.3/43.3/43.5/97.5'),
    Mean: row('97.2/99.0/96.5', '96.8/52.6/55.5/90.7'),
  },
  visa: {
    pcb1: row('88.1/88.7/80.7', '98.7/49.6/52.8/80.2'),
    pcb2: row('91.4/91.4/84.7', '95.2/7.5/16.7/67.0'),
    pcb3: row('86.2/87.6/77.6', '96.7/8.0/18.8/68.9'),
    pcb4: row('99.6/99.5/97.0', '97.0/17.6/27.2/85.0'),
    macaroni1: row('85.7/85.2/78.8', '94.1/10.2/16.7/68.5'),
    macaroni2: row('62.5/57.4/69.6', '93.6/0.9/2.8/73.1'),
    capsules: row('58.2/69.0/78.5', '97.3/10.0/21.0/77.9'),
    candle: row('92.8/92.0/87.6', '97.3/12.8/22.8/89.4'),
    cashew: row('91.5/95.7/89.7', '90.9/53.1/60.9/61.8'),
    chewinggum: row('99.1/99.5/95.9', '94.7/11.9/25.8/59.5'),
    fryum: row('89.8/95.0/87.2', '97.6/58.6/60.1/81.3'),
    pipe_fryum: row('96.2/98.1/93.7', '99.4/72.7/69.9/89.9'),
    Mean: row('86.8/88.3/85.1', '96.0/26.1/33.0/75.2'),
  },
};

/** The paper's rows for the categories evaluated; null when none of them is a paper category. */
export function paperRowsFor(
  dataset: PaperDataset,
  categories: readonly string[],
): Record<string, PaperRow> | null {
  const table = PAPER_DIAD[dataset];
  const rows: Record<string, PaperRow> = {};
  for (const c of categories) {
    const key = c.toLowerCase().replace(/[\s-]+/g, '_');
    if (table[key]) rows[c] = table[key];
  }
  if (Object.keys(rows).length === 0) return null;
  rows.Mean = table.Mean;
  return rows;
}
