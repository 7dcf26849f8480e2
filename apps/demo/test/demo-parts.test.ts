import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InspectionResult } from '@diad/protocol';
import { readTar } from '@diad/protocol/tar';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTinyBundle } from '../../../packages/pipeline/test/helpers/tiny-bundle.js';
import { DemoBroker } from '../src/broker.js';
import { packBundle, readBundleManifest } from '../src/bundle-tar.js';
import { HotFolderFeeder } from '../src/feeder.js';
import { loadOrCreateSecrets } from '../src/secrets.js';
import { LiveSummary } from '../src/summary.js';
import { ensureTestImages } from '../src/test-images.js';

const root = mkdtempSync(join(tmpdir(), 'diad-demo-parts-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('packBundle', () => {
  it('packs manifest.json and exactly the files the manifest lists', async () => {
    const dir = join(root, 'bundle');
    const manifest = await writeTinyBundle(dir);
    writeFileSync(join(dir, 'notes.txt'), 'not part of the bundle');
    const packed = await packBundle(dir);
    const entries = (await readTar([packed.tar])).files;
    expect(entries.map((e) => e.path).sort()).toEqual(
      ['manifest.json', ...Object.keys(manifest.files)].sort(),
    );
    for (const e of entries) expect(e.size).toBe(statSync(join(dir, e.path)).size);
    expect(packed.manifest.model.name).toBe('tiny-test');
  });

  it('names the problem: missing folder, a file instead of a folder, unreadable or invalid manifest', async () => {
    await expect(packBundle(join(root, 'nope'))).rejects.toThrow(RangeError);
    await expect(packBundle(join(root, 'nope'))).rejects.toThrow(/bundle: .*nope does not exist/);
    const file = join(root, 'file.txt');
    writeFileSync(file, 'x');
    await expect(packBundle(file)).rejects.toThrow(/is not a bundle folder/);
    const bad = join(root, 'bad-bundle');
    mkdirSync(bad, { recursive: true });
    expect(() => readBundleManifest(bad)).toThrow(/manifest.json is unreadable/);
    writeFileSync(join(bad, 'manifest.json'), '{"format":"something-else"}');
    expect(() => readBundleManifest(bad)).toThrow();
    expect(() => readBundleManifest('')).toThrow(TypeError);
  });
});

describe('ensureTestImages', () => {
  it('generates a deterministic set once, interleaving good and defective parts', async () => {
    const opts = { seed: 3, size: 32, categories: ['wood'], perCategory: 4 };
    const a = await ensureTestImages({ ...opts, dir: join(root, 'imgs-a') });
    const b = await ensureTestImages({ ...opts, dir: join(root, 'imgs-b') });
    expect(a).toHaveLength(4);
    expect(a.map((i) => sha(i.path))).toEqual(b.map((i) => sha(i.path)));
    expect(
      a
        .slice(0, 2)
        .map((i) => i.defective)
        .sort(),
    ).toEqual([false, true]);
    const mtime = statSync(a[0].path).mtimeMs;
    await ensureTestImages({ ...opts, dir: join(root, 'imgs-a') });
    expect(statSync(a[0].path).mtimeMs).toBe(mtime);
    const bigger = await ensureTestImages({ ...opts, size: 48, dir: join(root, 'imgs-a') });
    expect(readFileSync(bigger[0].path).readUInt32BE(16)).toBe(48);
  });

  it('refuses out-of-range sizes and counts', async () => {
    await expect(ensureTestImages({ dir: root, seed: 1, size: 8, perCategory: 4 })).rejects.toThrow(/size/);
    await expect(ensureTestImages({ dir: root, seed: 1, size: 32, perCategory: 1 })).rejects.toThrow(
      /perCategory/,
    );
  });
});

describe('HotFolderFeeder', () => {
  it('writes whole files under fresh part ids and keeps done/ bounded', async () => {
    const images = await ensureTestImages({
      dir: join(root, 'imgs-a'),
      seed: 3,
      size: 32,
      categories: ['wood'],
      perCategory: 4,
    });
    const hot = join(root, 'hot');
    const fed: string[] = [];
    const feeder = new HotFolderFeeder({
      hotFolder: hot,
      images,
      rate: 1,
      partPrefix: 'p',
      startAt: 7,
      onFed: (id) => fed.push(id),
    });
    await feeder.start();
    feeder.stop();
    const id = await feeder.feedOne();
    expect(id).toBe('p-000007');
    expect(readdirSync(hot).filter((f) => !f.startsWith('.'))).toEqual(['p-000007.png']);
    expect(sha(join(hot, 'p-000007.png'))).toBe(sha(images[0].path));
    expect(fed).toEqual(['p-000007']);
    expect(() => new HotFolderFeeder({ hotFolder: hot, images, rate: 0, partPrefix: 'p' })).toThrow(
      RangeError,
    );
    expect(() => new HotFolderFeeder({ hotFolder: hot, images: [], rate: 1, partPrefix: 'p' })).toThrow(
      /images/,
    );
  });
});

describe('DemoBroker', () => {
  it('keeps a persistent session and its queued QoS 1 messages across a stop and start on the same port', async () => {
    const broker = new DemoBroker('127.0.0.1', 0);
    await broker.start();
    const port = broker.port;
    const got: string[] = [];
    const sub = mqtt.connect(broker.url, {
      clientId: 'keeper',
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 200,
    });
    sub.on('message', (_t, p) => got.push(p.toString()));
    await new Promise((r) => sub.once('connect', r));
    await sub.subscribeAsync('x/#', { qos: 1 });
    await broker.stop();
    expect(broker.running).toBe(false);
    await broker.start();
    expect(broker.port).toBe(port);
    const pub = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    await pub.publishAsync('x/1', 'while the subscriber was away', { qos: 1 });
    const end = Date.now() + 10_000;
    while (got.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['while the subscriber was away']);
    await pub.endAsync();
    await sub.endAsync(true);
    await broker.stop();
    expect(() => new DemoBroker('127.0.0.1', 70000)).toThrow(RangeError);
  });
});

describe('loadOrCreateSecrets', () => {
  it('creates owner-only secrets once and reads the same ones back; refuses a foreign file', () => {
    const p = join(root, 'secrets', 'secrets.json');
    const a = loadOrCreateSecrets(p);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(loadOrCreateSecrets(p)).toEqual(a);
    expect(a.jwtSecret.length).toBeGreaterThanOrEqual(32);
    writeFileSync(p, '{"jwtSecret":"short"}');
    expect(() => loadOrCreateSecrets(p)).toThrow(/not a demo secrets file/);
  });
});

describe('LiveSummary', () => {
  const result = (partId: string, verdict: 'OK' | 'NOK' | null, total: number) =>
    ({
      partId,
      verdict,
      timingsMs: { total },
      capturedAt: '',
      inspectedAt: '',
    }) as unknown as InspectionResult;

  it('counts verdicts, latency percentiles and agreement with the ground truth', () => {
    const s = new LiveSummary();
    s.expect('a', true);
    s.expect('b', false);
    s.expect('c', true);
    s.add(result('a', 'NOK', 10));
    s.add(result('b', 'NOK', 30));
    s.add(result('c', 'OK', 20));
    s.add(result('d', null, 40));
    expect({ inspected: s.inspected, ok: s.ok, nok: s.nok, errors: s.errors }).toEqual({
      inspected: 4,
      ok: 1,
      nok: 2,
      errors: 1,
    });
    expect({ caught: s.caught, defective: s.defective, passed: s.passed, good: s.good }).toEqual({
      caught: 1,
      defective: 2,
      passed: 0,
      good: 1,
    });
    expect(s.percentile(50)).toBe(30);
    expect(s.lastLatencyMs).toBe(40);
    expect(s.line({ stored: 4, outbox: 0, model: 'm@1' })).toMatch(
      /inspected 4 {2}OK 1 {2}NOK 2 {2}errors 1/,
    );
  });
});
