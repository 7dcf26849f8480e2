/**
 * The whole system in one test process, over real connections: control plane (PGlite, or PostgreSQL when
 * DATABASE_URL is set), MQTT broker (in-process aedes, or a private Mosquitto process when MQTT_URL is set),
 * one enrolled agent running real ONNX Runtime sessions on a tiny hand-made bundle, its hot folder and its
 * OPC UA server. Expected scores come from a separate @diad/pipeline instance on the same bundle and images.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DemoBroker,
  ensureTestImages,
  freePort,
  type HistoryResult,
  HotFolderFeeder,
  hasFfmpeg,
  PLC_USER,
  packBundle,
  type RunningSystem,
  startSystem,
  type TestImage,
  waitFor,
} from '@diad/demo';
import { DiadPipeline } from '@diad/pipeline';
import {
  AttributeIds,
  DataType,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  UserTokenType,
} from 'node-opcua';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LooseManifest, writeTinyBundle } from '../../packages/pipeline/test/helpers/tiny-bundle.js';
import { mosquittoBinary, PrivateMosquitto } from './helpers/mosquitto.js';

const DATABASE_URL = process.env.DATABASE_URL || undefined;
const MQTT_URL = process.env.MQTT_URL || undefined;
const OUTAGE_MS = 30_000;
const MOSQUITTO = mosquittoBinary();

interface Variant {
  name: string;
  postgres: boolean;
  /** 'aedes': in-process broker; 'mosquitto': a private process we can stop; 'external': MQTT_URL as is. */
  broker: 'aedes' | 'mosquitto' | 'external';
}

const VARIANTS: Variant[] = [
  { name: 'embedded: PGlite + aedes', postgres: false, broker: 'aedes' },
  ...(DATABASE_URL && MQTT_URL
    ? [
        {
          name: `PostgreSQL + Mosquitto (${MOSQUITTO ? 'private process' : MQTT_URL})`,
          postgres: true,
          broker: MOSQUITTO ? ('mosquitto' as const) : ('external' as const),
        },
      ]
    : []),
];

/** Stop/start of whichever broker the variant runs (null: the broker cannot be stopped from here). */
interface Outage {
  stop(): Promise<void>;
  start(): Promise<void>;
}

describe.each(VARIANTS)('system: $name', (variant) => {
  let dir: string;
  let sys: RunningSystem;
  let images: TestImage[];
  let expected: Map<string, number>;
  let feeder: HotFolderFeeder;
  let outage: Outage | null = null;
  let mosquitto: PrivateMosquitto | null = null;
  let schema: string | null = null;
  const bundles = { v1: '', v2: '' };

  /** Waits until the defect history holds every part id, then returns those rows. */
  const history = async (partIds: string[], ms = 30_000): Promise<Map<string, HistoryResult[]>> => {
    const want = new Set(partIds);
    let found = 0;
    try {
      return await waitFor(
        async () => {
          const rows = await sys.api.results({ station: sys.fleet.station });
          const byPart = new Map<string, HistoryResult[]>();
          for (const r of rows)
            if (want.has(r.partId)) byPart.set(r.partId, [...(byPart.get(r.partId) ?? []), r]);
          found = byPart.size;
          return byPart.size === want.size ? byPart : null;
        },
        ms,
        `${partIds.length} results in the defect history`,
      );
    } catch (e) {
      throw new Error(
        `${(e as Error).message}: ${found} arrived, agent outbox depth ${sys.agent.outbox.depth()}`,
      );
    }
  };

  /** Feeds images through the hot folder and returns their part ids and images. */
  const feed = async (list: TestImage[], prefix: string) => {
    const fed: Array<{ partId: string; image: TestImage }> = [];
    for (const [i, image] of list.entries()) {
      const partId = await feeder.feedOne(image, `${prefix}-${i}`);
      fed.push({ partId, image });
      // One part at a time, as a line delivers them: the next file comes once this one's result is stored.
      await waitFor(
        async () => (existsSync(join(sys.hotFolder, `${partId}.png`)) ? null : true),
        15_000,
        `${partId} taken from the hot folder`,
      );
    }
    return fed;
  };

  const setThresholds = async (image: number) => {
    const before = sys.agent.inspection.thresholdPolicy.version;
    const t = await sys.api.setLineThresholds(sys.fleet.lineId, { image });
    expect(t.version).toBeGreaterThan(before);
    await waitFor(
      async () => (sys.agent.inspection.thresholdPolicy.version === t.version ? true : null),
      15_000,
      `thresholds v${t.version} on the agent`,
    );
    return t.version;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'diad-system-'));
    bundles.v1 = join(dir, 'bundle-v1');
    bundles.v2 = join(dir, 'bundle-v2');
    const version = (v: string) => ({
      editManifest: (m: LooseManifest) => Object.assign(m.model, { name: 'tiny-test', version: v }),
    });
    await writeTinyBundle(bundles.v1, version('1.0.0'));
    await writeTinyBundle(bundles.v2, version('2.0.0'));
    images = await ensureTestImages({
      dir: join(dir, 'images'),
      seed: 11,
      size: 32,
      categories: ['hex_nut', 'wood'],
      perCategory: 6,
    });
    // The scores the agent must report, computed apart from it (same bundle, same seed as the agent's default).
    const reference = await DiadPipeline.create(bundles.v1);
    expected = new Map();
    for (const img of images) expected.set(img.path, (await reference.inspect(img.path, { seed: 0 })).score);
    await reference.close();

    let mqtt: { url: string } | undefined;
    if (variant.broker === 'mosquitto') {
      mosquitto = new PrivateMosquitto(MOSQUITTO!, join(dir, 'mosquitto'), await freePort('127.0.0.1'));
      await mosquitto.start();
      mqtt = { url: mosquitto.url };
      outage = mosquitto;
    } else if (variant.broker === 'external') mqtt = { url: MQTT_URL! };
    if (variant.postgres) schema = `sys_${randomBytes(4).toString('hex')}`;
    sys = await startSystem({
      dataDir: join(dir, 'system'),
      bundle: bundles.v1,
      pgliteDir: variant.postgres ? undefined : 'memory://',
      database: variant.postgres ? { url: DATABASE_URL!, schema: schema! } : undefined,
      mqtt,
      heartbeatMs: 300,
      rolloutTickMs: 200,
      backoff: { initialMs: 200, maxMs: 2000 },
      pollMs: 50,
      triggerImage: images[0].path,
      controlPlaneMqtt: {
        clientId: `diad-cp-test-${randomBytes(4).toString('hex')}`,
        sessionExpirySeconds: 600,
      },
    });
    if (variant.broker === 'aedes') outage = sys.broker as DemoBroker;
    feeder = new HotFolderFeeder({ hotFolder: sys.hotFolder, images, rate: 1, partPrefix: 'unused' });
  }, 180_000);

  afterAll(async () => {
    await sys?.close();
    await mosquitto?.stop();
    if (schema) {
      const c = new pg.Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('rolled the registered bundle out as v1 to the enrolled agent', async () => {
    expect(sys.agent.models.activeModel).toMatchObject({ name: 'tiny-test', version: '1.0.0' });
    expect(sys.deviceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await sys.api.desiredModel(sys.deviceId)).toEqual({ name: 'tiny-test', version: '1.0.0' });
    const scores = [...expected.values()];
    expect(new Set(scores).size).toBeGreaterThan(1);
  });

  it('hot-folder results reach the defect history with the verdicts the thresholds give', async () => {
    const sorted = [...expected.values()].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    const threshold = (sorted[mid - 1] + sorted[mid]) / 2;
    const version = await setThresholds(threshold);
    const fed = await feed(images, 'hist');
    const rows = await history(fed.map((f) => f.partId));
    let nok = 0;
    for (const { partId, image } of fed) {
      const [r, ...dupes] = rows.get(partId)!;
      expect(dupes).toEqual([]);
      const score = expected.get(image.path)!;
      expect(r.state).toBe(score >= threshold ? 'nok' : 'ok');
      expect(r.verdict).toBe(score >= threshold ? 'NOK' : 'OK');
      expect(r.score).toBeCloseTo(score, 6);
      expect(r.imageThreshold).toBeCloseTo(threshold, 12);
      expect(r).toMatchObject({ modelName: 'tiny-test', modelVersion: '1.0.0', deviceId: sys.deviceId });
      if (r.verdict === 'NOK') nok++;
    }
    expect(nok).toBe(images.length - mid);
    expect(version).toBeGreaterThan(0);
  });

  it.runIf(hasFfmpeg())(
    'an OPC UA client triggers an inspection and reads its result through the handshake',
    async () => {
      const client = OPCUAClient.create({
        endpointMustExist: false,
        securityMode: MessageSecurityMode.None,
        securityPolicy: SecurityPolicy.None,
        connectionStrategy: { maxRetry: 2, initialDelay: 200 },
      });
      await client.connect(sys.urls.opcua);
      const session = await client.createSession({
        type: UserTokenType.UserName,
        userName: PLC_USER,
        password: sys.secrets.plcPassword,
      });
      try {
        const ns = sys.agent.opcua!.namespaceIndex;
        const st = sys.fleet.station;
        const read = async (n: string) =>
          (await session.read({ nodeId: `ns=${ns};s=${st}.${n}`, attributeId: AttributeIds.Value })).value
            .value;
        await waitFor(
          async () => ((await read('TriggerReady')) === true ? true : null),
          15_000,
          'TriggerReady',
        );
        await waitFor(
          async () => ((sys.agent.cameras.get('plc-cam')?.framesRead ?? 0) > 0 ? true : null),
          15_000,
          'trigger camera frames',
        );
        const call = await session.call({
          objectId: `ns=${ns};s=${st}`,
          methodId: `ns=${ns};s=${st}.Trigger`,
          inputArguments: [{ dataType: DataType.String, value: 'PLC-0001' }],
        });
        expect(call.statusCode).toBe(StatusCodes.Good);
        await waitFor(
          async () => ((await read('ResultReady')) === true ? true : null),
          15_000,
          'ResultReady',
        );
        const plc = {
          partId: await read('PartId'),
          resultId: await read('ResultId'),
          verdict: await read('Verdict'),
          score: await read('Score'),
          modelVersion: await read('ModelVersion'),
          error: await read('Error'),
        };
        const ack = await session.call({
          objectId: `ns=${ns};s=${st}`,
          methodId: `ns=${ns};s=${st}.Acknowledge`,
        });
        expect(ack.statusCode).toBe(StatusCodes.Good);
        await waitFor(
          async () => ((await read('ResultReady')) === false ? true : null),
          5000,
          'ResultReady reset',
        );

        const score = expected.get(images[0].path)!;
        const threshold = sys.agent.inspection.thresholdPolicy.image!;
        expect(plc).toMatchObject({ partId: 'PLC-0001', modelVersion: '1.0.0', error: false });
        expect(plc.score).toBeCloseTo(score, 5);
        expect(plc.verdict).toBe(score >= threshold ? 'NOK' : 'OK');
        const [stored] = (await history(['PLC-0001'])).get('PLC-0001')!;
        expect(stored).toMatchObject({ resultId: plc.resultId, verdict: plc.verdict, modelVersion: '1.0.0' });
      } finally {
        await session.close();
        await client.disconnect();
      }
    },
  );

  it('a threshold change in the control plane changes the next verdicts', async () => {
    const scores = [...expected.values()];
    const low = Math.min(...scores) / 2;
    const high = Math.max(...scores) * 2;
    await setThresholds(high);
    const before = await feed(images.slice(0, 4), 'thr-high');
    const v = await setThresholds(low);
    const after = await feed(images.slice(0, 4), 'thr-low');
    const rows = await history([...before, ...after].map((f) => f.partId));
    for (const f of before)
      expect(rows.get(f.partId)![0]).toMatchObject({ verdict: 'OK', imageThreshold: high });
    for (const f of after)
      expect(rows.get(f.partId)![0]).toMatchObject({ verdict: 'NOK', imageThreshold: low });
    expect(v).toBeGreaterThan(1);
  });

  it('a v2 rollout reaches the agent and its results carry v2', async () => {
    const v2 = await packBundle(bundles.v2);
    expect((await sys.api.ensureModel(v2.tar, 'tiny-test', '2.0.0')).uploaded).toBe(true);
    const rollout = await sys.api.rollOut(
      { name: 'tiny-test', version: '2.0.0' },
      sys.fleet.stationId,
      'system test',
    );
    await waitFor(
      async () => (sys.agent.models.activeModel?.version === '2.0.0' ? true : null),
      30_000,
      'v2 active on the agent',
    );
    await waitFor(
      async () => ((await sys.api.rollout(rollout.id)).status === 'completed' ? true : null),
      15_000,
      'the rollout to complete',
    );
    const fed = await feed(images.slice(0, 3), 'v2');
    const rows = await history(fed.map((f) => f.partId));
    for (const f of fed) {
      const r = rows.get(f.partId)![0];
      expect(r).toMatchObject({ modelName: 'tiny-test', modelVersion: '2.0.0', verdict: 'NOK' });
      // Same graphs under a new version: the score must not move.
      expect(r.score).toBeCloseTo(expected.get(f.image.path)!, 6);
    }
  });

  it.runIf(variant.broker !== 'external')(
    `the broker stopped for ${OUTAGE_MS / 1000} s and restarted loses nothing`,
    async () => {
      const t0 = Date.now();
      await outage!.stop();
      // Frames keep arriving during the outage: the agent inspects them and keeps the results in its outbox.
      const fed: Array<{ partId: string; image: TestImage }> = [];
      let i = 0;
      while (Date.now() - t0 < OUTAGE_MS - 1000) {
        fed.push({
          partId: await feeder.feedOne(images[i % images.length], `outage-${i}`),
          image: images[i % images.length],
        });
        i++;
        await new Promise((r) => setTimeout(r, 2000));
      }
      await waitFor(
        async () => (sys.agent.outbox.depth() >= fed.length ? true : null),
        10_000,
        'results held in the outbox',
      );
      const held = sys.agent.outbox.depth();
      await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - t0))));
      await outage!.start();
      const rows = await history(
        fed.map((f) => f.partId),
        60_000,
      );
      for (const f of fed) {
        const all = rows.get(f.partId)!;
        expect(all).toHaveLength(1);
        expect(all[0]).toMatchObject({ modelVersion: '2.0.0', state: 'nok' });
      }
      await waitFor(async () => (sys.agent.outbox.depth() === 0 ? true : null), 10_000, 'outbox drained');
      expect(held).toBeGreaterThanOrEqual(fed.length);
      expect(fed.length).toBeGreaterThanOrEqual(10);
    },
    OUTAGE_MS + 120_000,
  );
});
