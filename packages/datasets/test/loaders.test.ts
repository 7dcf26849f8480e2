import { rm, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetLayoutError, detectLayout, loadDataset } from '../src/index.js';
import { tempDir, writeImage, writeText } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function fresh(name: string): Promise<string> {
  const d = await tempDir(name);
  dirs.push(d);
  return d;
}

async function mvtecTree(): Promise<string> {
  const root = await fresh('mvtec');
  for (const cat of ['bottle', 'carpet']) {
    await writeImage(join(root, cat, 'train', 'good', '000.png'));
    await writeImage(join(root, cat, 'train', 'good', '001.png'));
    await writeImage(join(root, cat, 'test', 'good', '000.png'));
    await writeImage(join(root, cat, 'test', 'crack', '000.png'));
    await writeImage(join(root, cat, 'test', 'crack', '10.png'));
    await writeImage(join(root, cat, 'test', 'crack', '2.png'));
    for (const n of ['000', '10', '2'])
      await writeImage(join(root, cat, 'ground_truth', 'crack', `${n}_mask.png`), 255, 1);
  }
  await writeText(join(root, 'license.txt'), 'not a category');
  return root;
}

describe('MVTec-AD layout', () => {
  it('lists train and test samples with labels and masks, in natural order', async () => {
    const root = await mvtecTree();
    expect(await detectLayout(root)).toBe('mvtec');
    const ds = await loadDataset(root);
    expect(ds.layout).toBe('mvtec');
    expect(ds.categories).toEqual(['bottle', 'carpet']);
    const bottle = ds.samples.filter((s) => s.category === 'bottle');
    expect(
      bottle.map((s) => [
        s.split,
        s.defect,
        basename(s.imagePath),
        s.label,
        s.maskPath && basename(s.maskPath),
      ]),
    ).toEqual([
      ['train', 'good', '000.png', 0, null],
      ['train', 'good', '001.png', 0, null],
      ['test', 'crack', '000.png', 1, '000_mask.png'],
      ['test', 'crack', '2.png', 1, '2_mask.png'],
      ['test', 'crack', '10.png', 1, '10_mask.png'],
      ['test', 'good', '000.png', 0, null],
    ]);
    expect(bottle[2].maskPath).toBe(join(root, 'bottle', 'ground_truth', 'crack', '000_mask.png'));
  });

  it('accepts a single category folder as root and filters categories', async () => {
    const root = await mvtecTree();
    const one = await loadDataset(join(root, 'carpet'), { layout: 'mvtec' });
    expect(one.categories).toEqual(['carpet']);
    expect(one.samples).toHaveLength(6);
    const filtered = await loadDataset(root, { categories: ['carpet'] });
    expect(new Set(filtered.samples.map((s) => s.category))).toEqual(new Set(['carpet']));
    await expect(loadDataset(root, { categories: ['screw'] })).rejects.toThrow(
      /category "screw" not found.*bottle, carpet/,
    );
  });

  it('names the missing mask file', async () => {
    const root = await mvtecTree();
    await unlink(join(root, 'bottle', 'ground_truth', 'crack', '2_mask.png'));
    const err = await loadDataset(root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetLayoutError);
    expect((err as DatasetLayoutError).path).toBe(
      join(root, 'bottle', 'ground_truth', 'crack', '2_mask.png'),
    );
    expect((err as Error).message).toMatch(/no mask for .*test\/crack\/2\.png/);
  });

  it('names a missing train/good or ground_truth folder', async () => {
    const root = await fresh('mvtec-broken');
    await writeImage(join(root, 'cable', 'train', 'bad', '0.png'));
    await writeImage(join(root, 'cable', 'test', 'good', '0.png'));
    await expect(loadDataset(root, { layout: 'mvtec' })).rejects.toThrow(
      /missing folder .*cable\/train\/good/,
    );
    const root2 = await fresh('mvtec-nogt');
    await writeImage(join(root2, 'cable', 'train', 'good', '0.png'));
    await writeImage(join(root2, 'cable', 'test', 'bent', '0.png'));
    await expect(loadDataset(root2)).rejects.toThrow(/defect "bent" has no mask folder .*ground_truth\/bent/);
  });

  it('says what the layout should be when the folder has none of it', async () => {
    const root = await fresh('empty');
    await writeImage(join(root, 'pictures', 'a.png'));
    await expect(loadDataset(root, { layout: 'mvtec' })).rejects.toThrow(
      /no MVTec-AD category folder found .*expected MVTec-AD layout <root>\/<category>\/train\/good/,
    );
    await expect(detectLayout(root)).rejects.toThrow(/cannot tell the layout/);
    await expect(loadDataset(join(root, 'missing'))).rejects.toThrow(/does not exist/);
    await expect(loadDataset(root, { layout: 'coco' as never })).rejects.toThrow(RangeError);
  });
});

async function visaTree(csv?: string): Promise<string> {
  const root = await fresh('visa');
  await writeImage(join(root, 'candle', 'Data', 'Images', 'Normal', '0000.JPG'));
  await writeImage(join(root, 'candle', 'Data', 'Images', 'Normal', '0001.JPG'));
  await writeImage(join(root, 'candle', 'Data', 'Images', 'Anomaly', '000.JPG'));
  await writeImage(join(root, 'candle', 'Data', 'Masks', 'Anomaly', '000.png'), 1, 1);
  await writeImage(join(root, 'pcb1', 'Data', 'Images', 'Normal', '0000.JPG'));
  await writeText(
    join(root, 'split_csv', '1cls.csv'),
    csv ??
      [
        'object,split,label,image,mask',
        'candle,train,normal,candle/Data/Images/Normal/0000.JPG,',
        'candle,test,normal,candle/Data/Images/Normal/0001.JPG,',
        'candle,test,anomaly,candle/Data/Images/Anomaly/000.JPG,candle/Data/Masks/Anomaly/000.png',
        'pcb1,train,normal,pcb1/Data/Images/Normal/0000.JPG,',
        '',
      ].join('\r\n'),
  );
  return root;
}

describe('VisA layout', () => {
  it('reads the split CSV', async () => {
    const root = await visaTree();
    expect(await detectLayout(root)).toBe('visa');
    const ds = await loadDataset(root);
    expect(ds.categories).toEqual(['candle', 'pcb1']);
    expect(ds.samples.map((s) => [s.category, s.split, s.defect, s.label, s.maskPath !== null])).toEqual([
      ['candle', 'train', 'good', 0, false],
      ['candle', 'test', 'good', 0, false],
      ['candle', 'test', 'anomaly', 1, true],
      ['pcb1', 'train', 'good', 0, false],
    ]);
    expect(ds.samples[2].imagePath).toBe(join(root, 'candle/Data/Images/Anomaly/000.JPG'));
    const only = await loadDataset(root, { categories: ['pcb1'] });
    expect(only.samples).toHaveLength(1);
    await expect(loadDataset(root, { categories: ['fryum'] })).rejects.toThrow(
      /"fryum" not in .*candle, pcb1/,
    );
  });

  it('reports the CSV line of a missing image or mask, and a wrong header', async () => {
    const missing = await visaTree(
      'object,split,label,image,mask\ncandle,test,anomaly,candle/Data/Images/Anomaly/000.JPG,candle/Data/Masks/Anomaly/009.png\n',
    );
    await expect(loadDataset(missing)).rejects.toThrow(
      /1cls\.csv line 2: mask .*009\.png for an anomaly not found/,
    );
    const header = await visaTree('name,split,label,image,mask\n');
    await expect(loadDataset(header, { layout: 'visa' })).rejects.toThrow(/header has no "object" column/);
    const label = await visaTree(
      'object,split,label,image,mask\ncandle,test,broken,candle/Data/Images/Normal/0000.JPG,\n',
    );
    await expect(loadDataset(label)).rejects.toThrow(/line 2: label must be normal or anomaly, got "broken"/);
    const noCsv = await fresh('visa-nocsv');
    await expect(loadDataset(noCsv, { layout: 'visa' })).rejects.toThrow(
      /cannot read .*split_csv\/1cls\.csv/,
    );
  });
});

describe('MVTec 3D-AD layout (RGB only)', () => {
  it('uses rgb/ images and gt/ masks, keeps the validation split', async () => {
    const root = await fresh('mvtec3d');
    const cat = join(root, 'bagel');
    await writeImage(join(cat, 'train', 'good', 'rgb', '000.png'));
    await writeText(join(cat, 'train', 'good', 'xyz', '000.tiff'), 'depth, ignored');
    await writeImage(join(cat, 'validation', 'good', 'rgb', '000.png'));
    await writeImage(join(cat, 'test', 'good', 'rgb', '000.png'));
    await writeImage(join(cat, 'test', 'good', 'gt', '000.png'), 0, 1);
    await writeImage(join(cat, 'test', 'hole', 'rgb', '000.png'));
    await writeImage(join(cat, 'test', 'hole', 'gt', '000.png'), 255, 1);
    expect(await detectLayout(root)).toBe('mvtec3d');
    const ds = await loadDataset(root);
    expect(ds.samples.map((s) => [s.split, s.defect, s.label, s.maskPath])).toEqual([
      ['train', 'good', 0, null],
      ['validation', 'good', 0, null],
      ['test', 'good', 0, null],
      ['test', 'hole', 1, join(cat, 'test', 'hole', 'gt', '000.png')],
    ]);
    await unlink(join(cat, 'test', 'hole', 'gt', '000.png'));
    await expect(loadDataset(root)).rejects.toThrow(
      /no mask for .*hole\/rgb\/000\.png; expected .*hole\/gt\/000\.png/,
    );
  });
});

describe('plain good/bad folder layout', () => {
  it('labels good/ as normal and every other folder as a defect, with optional masks', async () => {
    const root = await fresh('folder');
    await writeImage(join(root, 'good', 'a.png'));
    await writeImage(join(root, 'good', 'b.jpg'));
    await writeImage(join(root, 'bad', 'c.png'));
    await writeImage(join(root, 'bad', 'd.png'));
    await writeImage(join(root, 'ground_truth', 'bad', 'c_mask.png'), 255, 1);
    await writeText(join(root, 'good', 'notes.txt'), 'ignored');
    expect(await detectLayout(root)).toBe('folder');
    const ds = await loadDataset(root);
    expect(ds.categories).toEqual([basename(root)]);
    expect(
      ds.samples.map((s) => [
        s.split,
        s.defect,
        basename(s.imagePath),
        s.label,
        s.maskPath && basename(s.maskPath),
      ]),
    ).toEqual([
      ['test', 'good', 'a.png', 0, null],
      ['test', 'good', 'b.jpg', 0, null],
      ['test', 'bad', 'c.png', 1, 'c_mask.png'],
      ['test', 'bad', 'd.png', 1, null],
    ]);
  });

  it('reads one folder per category and rejects a folder without good images', async () => {
    const root = await fresh('folder-cats');
    await writeImage(join(root, 'lineA', 'ok', '1.png'));
    await writeImage(join(root, 'lineA', 'nok', '2.png'));
    await writeImage(join(root, 'lineB', 'good', '1.png'));
    const ds = await loadDataset(root, { layout: 'folder' });
    expect(ds.categories).toEqual(['lineA', 'lineB']);
    expect(ds.samples.filter((s) => s.label === 1).map((s) => s.defect)).toEqual(['nok']);
    const empty = await fresh('folder-empty');
    await writeText(join(empty, 'good', 'readme.txt'), 'no images');
    await expect(loadDataset(empty, { layout: 'folder' })).rejects.toThrow(/good has no images/);
    const none = await fresh('folder-none');
    await writeImage(join(none, 'bad', '1.png'));
    await expect(loadDataset(none, { layout: 'folder' })).rejects.toThrow(/no good\/ folder found/);
  });
});
