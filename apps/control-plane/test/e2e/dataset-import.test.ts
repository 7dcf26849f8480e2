import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { packTar, readTar, type TarInput } from '@diad/protocol/tar';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, client, type Harness, login, makeFleet, startHarness } from '../helpers/harness.js';

const png = (v: number, size = 16) =>
  sharp({ create: { width: size, height: size, channels: 3, background: { r: v, g: v, b: v } } })
    .png()
    .toBuffer();
const jpg = (v: number) =>
  sharp({ create: { width: 16, height: 16, channels: 3, background: { r: v, g: 0, b: 0 } } })
    .jpeg()
    .toBuffer();
/** A mask with a white square in a black field. */
const mask = () => {
  const px = Buffer.alloc(16 * 16);
  for (let y = 3; y < 7; y++) for (let x = 2; x < 6; x++) px[y * 16 + x] = 255;
  return sharp(px, { raw: { width: 16, height: 16, channels: 1 } })
    .png()
    .toBuffer();
};

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Files of an archive by path (read with the project's tar reader, keeping every file). */
async function files(tar: Buffer): Promise<Map<string, Buffer>> {
  const c = await readTar([tar], { keep: () => true, maxKeptBytes: 16 * 1024 * 1024 });
  return new Map(c.files.map((f) => [f.path, c.content(f.path)!]));
}

/** Per folder, the sorted content hashes: the dataset as content, whatever the files are called. */
function byFolder(fs: Map<string, Buffer>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [p, b] of fs) {
    const dir = p.split('/').slice(1, -1).join('/');
    out[dir] = [...(out[dir] ?? []), sha(b)];
  }
  for (const k of Object.keys(out)) out[k].sort();
  return out;
}

describe('datasets imported from MVTec layout, over HTTP', () => {
  let h: Harness;
  let admin: Client;
  let token: string;
  let lineId: string;
  let layout: TarInput[];

  const post = (path: string, body: Buffer, type = 'application/x-tar') =>
    admin.raw('POST', path, body, { 'content-type': type });
  const exportTar = async (id: string) => {
    const res = await fetch(`${h.cp.url}/api/v1/datasets/${id}/export.tar`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  };
  /** Files (not folders) stored under datasets/ in the blob store. */
  const datasetBlobs = () =>
    existsSync(join(h.blobDir, 'datasets'))
      ? readdirSync(join(h.blobDir, 'datasets'), { recursive: true, withFileTypes: true }).filter((e) =>
          e.isFile(),
        ).length
      : 0;

  beforeAll(async () => {
    h = await startHarness('pglite', { maxDatasetImportBytes: 1024 * 1024 });
    token = await login(h.cp.url);
    admin = client(h.cp.url, token);
    lineId = (await makeFleet(admin)).line.id;
    layout = [
      { name: 'license.txt', data: 'CC BY-NC-SA 4.0' },
      { name: 'bottle/train/good/000.png', data: await png(10) },
      { name: 'bottle/train/good/001.png', data: await png(20) },
      { name: 'bottle/test/good/000.png', data: await png(30) },
      { name: 'bottle/test/broken_large/000.png', data: await png(200) },
      { name: 'bottle/test/contamination/003.jpg', data: await jpg(180) },
      { name: 'bottle/ground_truth/broken_large/000_mask.png', data: await mask() },
    ];
  });
  afterAll(async () => {
    await h?.close();
  });

  it('imports images, labels and masks as a frozen dataset version, and exports them back', async () => {
    const r = await post(`/api/v1/lines/${lineId}/datasets/import`, await packTar(layout));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({
      name: 'bottle',
      version: 1,
      counts: { train: 2, validationNormal: 1, validationDefect: 2, masks: 1 },
      selection: {
        import: {
          format: 'mvtec',
          category: 'bottle',
          defectTypes: { broken_large: 1, contamination: 1 },
          skipped: ['license.txt'],
        },
      },
    });
    const listed = await admin.get(`/api/v1/lines/${lineId}/datasets`);
    expect(listed.body.map((d: { id: string }) => d.id)).toContain(r.body.id);
    const audit = await admin.get(`/api/v1/audit?entityType=dataset&entityId=${r.body.id}`);
    expect((audit.body.items ?? audit.body).map((e: { action: string }) => e.action)).toContain(
      'dataset.import',
    );

    const out = await files(await exportTar(r.body.id));
    const got = byFolder(out);
    expect(got['train/good']).toEqual([sha(await png(10)), sha(await png(20))].sort());
    expect(got['test/good']).toEqual([sha(await png(30))]);
    // Images are stored byte for byte; defect types meet in test/defect (the export's one defect folder).
    expect(got['test/defect']).toEqual([sha(await png(200)), sha(await jpg(180))].sort());
    const [maskName] = [...out.keys()].filter((p) => p.startsWith('bottle/ground_truth/defect/'));
    const png200 = sha(await png(200));
    const defectImage = [...out.entries()].find(([, b]) => sha(b) === png200)?.[0];
    expect(maskName.replace('ground_truth/defect/', 'test/defect/').replace('_mask.png', '.png')).toBe(
      defectImage,
    );
    // The mask keeps its region: 16 white pixels at (2..5, 3..6).
    const px = await sharp(out.get(maskName)!).greyscale().raw().toBuffer();
    expect(px.filter((v) => v === 255).length).toBe(16);
    expect(px[3 * 16 + 2]).toBe(255);
    expect(px[0]).toBe(0);
  });

  it('round-trips: an exported dataset imports as the same content, as the next version', async () => {
    const first = await post(`/api/v1/lines/${lineId}/datasets/import?name=round`, await packTar(layout));
    expect(first.status).toBe(201);
    const exported = await exportTar(first.body.id);
    const again = await post(`/api/v1/lines/${lineId}/datasets/import?name=round`, exported);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(again.body).toMatchObject({ name: 'round', version: 2, counts: first.body.counts });
    expect(byFolder(await files(await exportTar(again.body.id)))).toEqual(byFolder(await files(exported)));
  });

  it('refuses a wrong layout, corrupt images and masks without images, naming the path, and keeps nothing', async () => {
    const before = datasetBlobs();
    const refuse = async (entries: TarInput[], message: string | RegExp, status = 422) => {
      const r = await post(`/api/v1/lines/${lineId}/datasets/import`, await packTar(entries));
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.body.message).toMatch(message);
    };
    const good = layout.slice(1, 3);
    await refuse(
      [...good, { name: 'bottle/training/good/5.png', data: await png(1) }],
      '"bottle/training/good/5.png": unknown folder "bottle/training"',
    );
    await refuse(
      [...good, { name: 'bottle/train/scratch/5.png', data: await png(1) }],
      '"bottle/train/scratch/5.png": training images must be normal, in bottle/train/good',
    );
    await refuse(
      [...good, { name: 'bottle/test/crack/004.png', data: 'not a png at all' }],
      /^"bottle\/test\/crack\/004\.png": not a readable image/,
    );
    const truncated = (await png(90, 64)).subarray(0, 60);
    await refuse(
      [...good, { name: 'bottle/test/good/009.png', data: truncated }],
      /^"bottle\/test\/good\/009\.png": not a readable image/,
    );
    await refuse(
      [...good, { name: 'bottle/ground_truth/crack/007_mask.png', data: await mask() }],
      '"bottle/ground_truth/crack/007_mask.png": a mask without an image; expected bottle/test/crack/007.png',
    );
    await refuse(
      [...good, { name: 'cable/train/good/0.png', data: await png(1) }],
      'archive: expected one category folder, found 2 (bottle, cable)',
    );
    await refuse(
      [{ name: 'bottle/test/good/0.png', data: await png(1) }],
      'archive: no training images; expected normal images in bottle/train/good/',
    );
    await refuse(
      [...good, { name: 'bottle/train/good/notes.md', data: 'x' }],
      /notes\.md": not an image name/,
    );
    // The archive itself goes through the project's tar policy.
    const tar = await packTar(good);
    await refuse([], 'tar: no entries in the archive');
    const cut = tar.subarray(0, 700);
    const r = await post(`/api/v1/lines/${lineId}/datasets/import`, cut);
    expect(r.status).toBe(422);
    expect(r.body.message).toMatch(/^tar/);
    // Too large for the configured limit (1 MiB here).
    const big = await packTar([{ name: 'bottle/train/good/big.png', data: Buffer.alloc(1_200_000, 7) }]);
    const tooBig = await post(`/api/v1/lines/${lineId}/datasets/import`, big);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.message).toContain('larger than the limit of 1048576 bytes');
    const wrongType = await post(`/api/v1/lines/${lineId}/datasets/import`, tar, 'application/zip');
    expect(wrongType.status).toBe(415);
    expect(wrongType.body.message).toContain('content-type: expected application/x-tar');
    const badName = await post(`/api/v1/lines/${lineId}/datasets/import?name=Bad%20Name`, tar);
    expect(badName.status).toBe(400);
    expect(badName.body.message).toMatch(/^query\.name: /);
    // Refused imports left no dataset and no blob behind.
    expect(datasetBlobs()).toBe(before);
    const names = (await admin.get(`/api/v1/lines/${lineId}/datasets`)).body.map(
      (d: { name: string; version: number }) => `${d.name}@${d.version}`,
    );
    expect(names.sort()).toEqual(['bottle@1', 'round@1', 'round@2']);
  });
});
