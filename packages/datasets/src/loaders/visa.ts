import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isFile, naturalCompare } from './fsutil.js';
import { type Dataset, DatasetLayoutError, type DatasetSample } from './types.js';

const EXPECTED =
  'expected VisA layout: <root>/split_csv/1cls.csv with columns object,split,label,image,mask and the paths it ' +
  'names (<category>/Data/Images/{Normal,Anomaly}/*.JPG, <category>/Data/Masks/Anomaly/*.png) relative to <root>';

export const VISA_DEFAULT_CSV = join('split_csv', '1cls.csv');

/** Splits one CSV line; handles double-quoted fields (VisA's own files have none). */
function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(field);
      field = '';
    } else field += ch;
  }
  out.push(field);
  return out.map((f) => f.trim());
}

export async function looksLikeVisa(root: string): Promise<boolean> {
  return isFile(join(root, VISA_DEFAULT_CSV));
}

export async function loadVisa(
  root: string,
  categories?: readonly string[],
  csvPath: string = join(root, VISA_DEFAULT_CSV),
): Promise<Dataset> {
  const text = await readFile(csvPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new DatasetLayoutError(`cannot read ${csvPath} (${err.code ?? err.message}); ${EXPECTED}`, csvPath);
  });
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  const header = parseCsvLine(lines[0] ?? '').map((h) => h.toLowerCase());
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) {
      throw new DatasetLayoutError(
        `${csvPath}: header has no "${name}" column (got "${lines[0] ?? ''}"); ${EXPECTED}`,
        csvPath,
      );
    }
    return i;
  };
  const [cObject, cSplit, cLabel, cImage, cMask] = ['object', 'split', 'label', 'image', 'mask'].map(col);
  const wanted = categories && categories.length > 0 ? new Set(categories) : null;
  const samples: DatasetSample[] = [];
  const seen = new Set<string>();
  for (let n = 1; n < lines.length; n++) {
    const row = parseCsvLine(lines[n]);
    const where = `${csvPath} line ${n + 1}`;
    const category = row[cObject] ?? '';
    if (!category) throw new DatasetLayoutError(`${where}: empty object column`, csvPath);
    seen.add(category);
    if (wanted && !wanted.has(category)) continue;
    const split = row[cSplit];
    if (split !== 'train' && split !== 'test') {
      throw new DatasetLayoutError(`${where}: split must be train or test, got "${split ?? ''}"`, csvPath);
    }
    const labelText = (row[cLabel] ?? '').toLowerCase();
    if (labelText !== 'normal' && labelText !== 'anomaly') {
      throw new DatasetLayoutError(
        `${where}: label must be normal or anomaly, got "${row[cLabel] ?? ''}"`,
        csvPath,
      );
    }
    const imagePath = join(root, row[cImage] ?? '');
    if (!row[cImage] || !(await isFile(imagePath))) {
      throw new DatasetLayoutError(`${where}: image ${imagePath} not found; ${EXPECTED}`, imagePath);
    }
    const label = labelText === 'anomaly' ? 1 : 0;
    let maskPath: string | null = null;
    if (label === 1 && split === 'test') {
      maskPath = join(root, row[cMask] ?? '');
      if (!row[cMask] || !(await isFile(maskPath))) {
        throw new DatasetLayoutError(
          `${where}: mask ${maskPath} for an anomaly not found; ${EXPECTED}`,
          maskPath,
        );
      }
    }
    samples.push({ category, split, defect: label ? 'anomaly' : 'good', imagePath, maskPath, label });
  }
  if (wanted) {
    for (const w of wanted) {
      if (!seen.has(w)) {
        throw new DatasetLayoutError(
          `category "${w}" not in ${csvPath}; found: ${[...seen].join(', ')}`,
          csvPath,
        );
      }
    }
  }
  if (samples.length === 0) throw new DatasetLayoutError(`${csvPath} lists no images; ${EXPECTED}`, csvPath);
  const cats = [...new Set(samples.map((s) => s.category))];
  if (!wanted) cats.sort(naturalCompare);
  return { root, layout: 'visa', categories: wanted ? [...wanted] : cats, samples };
}
