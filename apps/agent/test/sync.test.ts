import { generateKeyPairSync, sign } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Clock, systemClock } from '../src/clock.js';
import { StandInInspector } from '../src/inspector/standin.js';
import { ControlPlaneClient } from '../src/sync/client.js';
import { StateStore } from '../src/sync/state-store.js';
import { SyncService } from '../src/sync/sync-service.js';
import { FakeControlPlane } from './fake-control-plane.js';
import { FakeClock, silent, standInBundle, tmp } from './helpers.js';
import { frame, inspectionStack } from './stack.js';

const bundleBytes = (version: string, extra: Record<string, unknown> = {}) =>
  readFileSync(standInBundle(tmp(), version, extra));

describe('control-plane sync (fake control plane over HTTP)', () => {
  const cp = new FakeControlPlane();
  beforeAll(() => cp.start());
  afterAll(() => cp.close());

  async function setup(
    opts: {
      publicKey?: ReturnType<typeof generateKeyPairSync>['publicKey'];
      clock?: Clock;
      downloadGiveUpMs?: number;
    } = {},
  ) {
    const stack = await inspectionStack();
    const dataDir = tmp();
    const state = new StateStore(join(dataDir, 'state.json'));
    const sync = new SyncService({
      client: new ControlPlaneClient(cp.url),
      state,
      models: stack.models,
      factory: (p, sha) => StandInInspector.load(p, sha),
      inspection: stack.service,
      outboxDepth: () => stack.outbox.depth(),
      bundlesDir: join(dataDir, 'bundles'),
      enrolToken: 'one-time-token-0123456789',
      hostname: 'edge-test',
      agentVersion: '0.1.0',
      providers: ['cpu'],
      publicKey: opts.publicKey ?? null,
      heartbeatMs: 1000,
      backoff: { initialMs: 100, maxMs: 1000 },
      downloadGiveUpMs: opts.downloadGiveUpMs,
      clock: opts.clock ?? new FakeClock(),
      logger: silent,
      metrics: stack.metrics,
    });
    return { stack, sync, state, dataDir };
  }
  /** Real timers for the tests whose retries wait (backoff 100–1000 ms). */
  const realClock = systemClock;
  const retries = async (stack: Awaited<ReturnType<typeof inspectionStack>>, call: string) =>
    (await stack.metrics.controlPlaneRetries.get()).values.find((v) => v.labels.call === call)?.value ?? 0;

  it('enrols once with the one-time token, persists the credential (0600) and reuses it', async () => {
    cp.tokens.add('one-time-token-0123456789');
    const { sync, dataDir, stack } = await setup();
    await sync.syncOnce();
    expect(cp.enrolments).toBeGreaterThan(0);
    const n = cp.enrolments;
    const file = join(dataDir, 'state.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).enrolment.credential).toBe(cp.credential);
    const again = new SyncService({
      ...(sync as unknown as { o: ConstructorParameters<typeof SyncService>[0] }).o,
      state: new StateStore(file),
      enrolToken: undefined,
    });
    await again.syncOnce();
    expect(cp.enrolments).toBe(n);
    const hb = cp.heartbeats.at(-1)!;
    expect(hb).toMatchObject({
      schema: 'diad.heartbeat/v1',
      health: 'ok',
      provider: 'cpu',
      activeModel: { name: 'standin', version: '1.0.0' },
    });
    expect(stack.models.activeModel?.version).toBe('1.0.0');
  });

  it('refuses a used token with a clear error, without retrying', async () => {
    const { sync } = await setup();
    const before = cp.enrolRequests.length;
    await expect(sync.syncOnce()).rejects.toThrow(/HTTP 401/);
    expect(cp.enrolRequests.length).toBe(before + 1);
  });

  it('retries enrolment after a 503 and after a reply lost once the token was used, with the same request', async () => {
    cp.tokens.add('one-time-token-0123456789');
    cp.idempotentEnrolment = true;
    try {
      cp.faults.push(
        { method: 'POST', path: /\/enrol$/, kind: 503 },
        { method: 'POST', path: /\/enrol$/, kind: 'drop' },
      );
      const { sync, state, stack } = await setup({ clock: realClock });
      const before = cp.enrolRequests.length;
      const enrolled = cp.enrolments;
      await sync.syncOnce();
      expect(cp.enrolRequests.length).toBe(before + 3);
      const sent = cp.enrolRequests.slice(before);
      expect(sent[1]).toEqual(sent[0]);
      expect(sent[2]).toEqual(sent[0]);
      expect(cp.enrolments).toBe(enrolled + 1); // the token was used once, by the dropped request
      expect(state.get().enrolment?.credential).toBe(cp.credential);
      expect(await retries(stack, 'enrol')).toBe(2);
    } finally {
      cp.idempotentEnrolment = false;
    }
  });

  it('retries a bundle download that fails with a 503 or a connection reset, then activates it', async () => {
    cp.tokens.add('one-time-token-0123456789');
    const { sync, stack } = await setup({ clock: realClock });
    await sync.syncOnce();
    const ref = cp.offer(bundleBytes('6.0.0'), 'standin', '6.0.0');
    cp.desired = { ...cp.desired, revision: 30, model: ref, rolloutId: 'r30' };
    cp.faults.push(
      { method: 'GET', path: /\/bundles\//, kind: 503 },
      { method: 'GET', path: /\/bundles\//, kind: 'drop' },
    );
    const downloads = cp.downloads;
    await sync.syncOnce();
    expect(cp.downloads).toBe(downloads + 2); // the 503 is answered before counting
    expect(stack.models.activeModel?.version).toBe('6.0.0');
    expect(sync.pendingReports.at(-1)).toMatchObject({ state: 'active', rolloutId: 'r30' });
    expect(await retries(stack, 'download')).toBe(2);
  });

  it('keeps a download that still fails transiently after the last try for the next cycle, reporting nothing', async () => {
    cp.tokens.add('one-time-token-0123456789');
    const { sync, stack, state } = await setup({ clock: realClock });
    await sync.syncOnce();
    const applied = state.get().appliedRevision;
    const ref = cp.offer(bundleBytes('7.5.0'), 'standin', '7.5.0');
    cp.desired = { ...cp.desired, revision: 35, model: ref, rolloutId: 'r35' };
    // A load balancer with no replica up answers every try of this cycle with a 503.
    for (let i = 0; i < 4; i++) cp.faults.push({ method: 'GET', path: /\/bundles\//, kind: 503 });
    const running = stack.models.activeModel?.version;
    await sync.syncOnce();
    expect(cp.faults).toHaveLength(0);
    expect(stack.models.activeModel?.version).toBe(running);
    expect(sync.pendingReports.filter((r) => r.rolloutId === 'r35')).toEqual([]);
    expect(state.get().appliedRevision).toBe(applied);
    // The next cycle finds the replicas back and activates the bundle.
    await sync.syncOnce();
    expect(stack.models.activeModel?.version).toBe('7.5.0');
    expect(sync.pendingReports.filter((r) => r.rolloutId === 'r35')).toEqual([
      expect.objectContaining({ state: 'active', error: null }),
    ]);
    expect(state.get().appliedRevision).toBe(35);
  });

  it('reports the activation failed once transient download failures outlast downloadGiveUpMs', async () => {
    cp.tokens.add('one-time-token-0123456789');
    const { sync, stack } = await setup({ clock: realClock, downloadGiveUpMs: 1 });
    await sync.syncOnce();
    const ref = cp.offer(bundleBytes('7.6.0'), 'standin', '7.6.0');
    cp.desired = { ...cp.desired, revision: 36, model: ref, rolloutId: 'r36' };
    for (let i = 0; i < 8; i++) cp.faults.push({ method: 'GET', path: /\/bundles\//, kind: 503 });
    await sync.syncOnce(); // first failing cycle: within the give-up time
    expect(sync.pendingReports.filter((r) => r.rolloutId === 'r36')).toEqual([]);
    await sync.syncOnce(); // still failing, now past it
    expect(cp.faults).toHaveLength(0);
    expect(sync.pendingReports.filter((r) => r.rolloutId === 'r36')).toEqual([
      expect.objectContaining({ state: 'failed', error: expect.stringMatching(/HTTP 503/) }),
    ]);
    expect(stack.models.activeModel?.version).not.toBe('7.6.0');
  });

  it('starts the give-up time afresh for a bundle desired again after another desired state', async () => {
    cp.tokens.add('one-time-token-0123456789');
    const { sync, stack } = await setup({ clock: realClock, downloadGiveUpMs: 200 });
    await sync.syncOnce();
    const ref = cp.offer(bundleBytes('7.7.0'), 'standin', '7.7.0');
    cp.desired = { ...cp.desired, revision: 37, model: ref, rolloutId: 'r37' };
    for (let i = 0; i < 4; i++) cp.faults.push({ method: 'GET', path: /\/bundles\//, kind: 503 });
    await sync.syncOnce(); // failing transiently: not reported
    // The rollout is withdrawn (the running model desired again), then offered again later.
    cp.desired = { ...cp.desired, revision: 38, model: null, rolloutId: null };
    await sync.syncOnce();
    await new Promise((r) => setTimeout(r, 300));
    cp.desired = { ...cp.desired, revision: 39, model: ref, rolloutId: 'r39' };
    for (let i = 0; i < 4; i++) cp.faults.push({ method: 'GET', path: /\/bundles\//, kind: 503 });
    await sync.syncOnce(); // its first failing cycle again: within the give-up time
    expect(cp.faults).toHaveLength(0);
    expect(sync.pendingReports.filter((r) => r.state === 'failed')).toEqual([]);
    await sync.syncOnce();
    expect(stack.models.activeModel?.version).toBe('7.7.0');
  });

  it('reports a failed activation after the last try past the give-up time, and does not retry a 404', async () => {
    cp.tokens.add('one-time-token-0123456789');
    const { sync, stack } = await setup({ clock: realClock, downloadGiveUpMs: 0 });
    await sync.syncOnce();
    const ref = cp.offer(bundleBytes('7.0.0'), 'standin', '7.0.0');
    cp.desired = { ...cp.desired, revision: 31, model: ref, rolloutId: 'r31' };
    for (let i = 0; i < 4; i++) cp.faults.push({ method: 'GET', path: /\/bundles\//, kind: 503 });
    const running = stack.models.activeModel?.version;
    await sync.syncOnce();
    expect(cp.faults).toHaveLength(0);
    expect(stack.models.activeModel?.version).toBe(running);
    expect(sync.pendingReports.at(-1)).toMatchObject({ state: 'failed', rolloutId: 'r31' });
    expect(sync.pendingReports.at(-1)?.error).toMatch(/HTTP 503/);

    const missing = { ...ref, sha256: 'f'.repeat(64), url: `/api/v1/bundles/${'f'.repeat(64)}` };
    cp.desired = { ...cp.desired, revision: 32, model: missing, rolloutId: 'r32' };
    const before = await retries(stack, 'download');
    await sync.syncOnce();
    expect(await retries(stack, 'download')).toBe(before);
    expect(sync.pendingReports.at(-1)?.error).toMatch(/HTTP 404/);
  });

  it('applies thresholds, downloads, verifies and switches to a new model, and reports it', async () => {
    cp.tokens.add('one-time-token-0123456789');
    const { sync, stack } = await setup();
    const v2 = cp.offer(bundleBytes('2.0.0'), 'standin', '2.0.0');
    cp.desired = {
      ...cp.desired,
      revision: 1,
      model: v2,
      thresholds: { version: 7, image: 0.3, pixel: 0.2 },
      rolloutId: 'r1',
    };
    await sync.syncOnce();
    expect(stack.models.activeModel).toEqual({ name: 'standin', version: '2.0.0', sha256: v2.sha256 });
    const r = await stack.service.submit(frame('st1', 'p1', 100));
    expect(r.model?.version).toBe('2.0.0');
    expect(r.thresholds).toEqual({ version: 7, image: 0.3, pixel: 0.2 });
    expect(r.verdict).toBe('NOK'); // 100/255 = 0.39 >= 0.3
    await sync.syncOnce();
    expect(cp.heartbeats.at(-1)!.modelReports).toEqual([
      {
        model: { name: 'standin', version: '2.0.0', sha256: v2.sha256 },
        state: 'active',
        error: null,
        rolloutId: 'r1',
      },
    ]);
    expect(cp.heartbeats.at(-1)!.activeModel?.version).toBe('2.0.0');
  });

  it('keeps the old model when the offered bundle is corrupt, and reports the failure', async () => {
    cp.tokens.add('one-time-token-0123456789');
    const { sync, stack, dataDir } = await setup();
    const good = bundleBytes('3.0.0');
    const corrupt = Buffer.from(good);
    corrupt[10] ^= 0xff;
    const ref = cp.offer(good, 'standin', '3.0.0', { served: corrupt });
    cp.desired = { ...cp.desired, revision: 2, model: ref, thresholds: null, rolloutId: 'r2' };
    await sync.syncOnce();
    expect(stack.models.activeModel?.version).toBe('1.0.0');
    const r = await stack.service.submit(frame('st1', 'p2', 10));
    expect(r.state).toBe('ok');
    expect(r.model?.version).toBe('1.0.0');
    await sync.syncOnce();
    const rep = cp.heartbeats.at(-1)!.modelReports[0];
    expect(rep).toMatchObject({ state: 'failed', rolloutId: 'r2' });
    expect(rep.error).toMatch(/sha256 mismatch/);
    expect(() => statSync(join(dataDir, 'bundles', `${ref.sha256}.tar`))).toThrow();
  });

  it('keeps the old model when the new one fails to load or warm up', async () => {
    cp.tokens.add('one-time-token-0123456789');
    const { sync, stack } = await setup();
    const ref = cp.offer(bundleBytes('4.0.0', { failWarmup: true }), 'standin', '4.0.0');
    cp.desired = { ...cp.desired, revision: 3, model: ref };
    await sync.syncOnce();
    expect(stack.models.activeModel?.version).toBe('1.0.0');
    expect(sync.pendingReports[0]).toMatchObject({ state: 'failed' });
    expect(sync.pendingReports[0].error).toMatch(/warm-up failed/);
  });

  it('checks the ed25519 signature when a key is configured', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const bytes = bundleBytes('5.0.0');
    const unsigned = cp.offer(bytes, 'standin', '5.0.0');
    const bad = {
      ...unsigned,
      signature: sign(null, Buffer.from('0'.repeat(64)), privateKey).toString('base64'),
    };
    const good = {
      ...unsigned,
      signature: sign(null, Buffer.from(unsigned.sha256), privateKey).toString('base64'),
    };

    cp.tokens.add('one-time-token-0123456789');
    const a = await setup({ publicKey });
    for (const [rev, ref, expectVersion, err] of [
      [10, unsigned, '1.0.0', /signature: required/],
      [11, bad, '1.0.0', /signature: not valid/],
      [12, good, '5.0.0', null],
    ] as const) {
      cp.desired = { ...cp.desired, revision: rev, model: ref };
      await a.sync.syncOnce();
      expect(a.stack.models.activeModel?.version).toBe(expectVersion);
      const last = a.sync.pendingReports.at(-1)!;
      if (err) expect(last.error).toMatch(err);
      else expect(last.state).toBe('active');
    }
  });

  it('runs a shadow model beside the active one and decides with the active one', async () => {
    cp.tokens.add('one-time-token-0123456789');
    const { sync, stack } = await setup();
    // The shadow's calibration flags everything brighter than 0.1; the active one 0.5.
    const shadow = cp.offer(
      bundleBytes('9.0.0', { calibration: { imageThreshold: 0.1, pixelThreshold: 0.1 } }),
      'standin',
      '9.0.0',
    );
    cp.desired = { ...cp.desired, revision: 20, model: null, shadowModel: shadow, thresholds: null };
    await sync.syncOnce();
    expect(stack.models.shadowModel?.version).toBe('9.0.0');
    const r = await stack.service.submit(frame('st1', 'p3', 60));
    expect(r.verdict).toBe('OK');
    expect(r.model?.version).toBe('1.0.0');
    expect(r.shadow).toEqual({
      model: { name: 'standin', version: '9.0.0', sha256: shadow.sha256 },
      score: r.score,
      verdict: 'NOK',
    });
    expect(sync.pendingReports.at(-1)).toMatchObject({ state: 'shadow' });
  });
});

describe('control-plane sync: promotion, confirmation, pruning', () => {
  const cp = new FakeControlPlane();
  beforeAll(() => cp.start());
  afterAll(() => cp.close());

  it('promotes the warm shadow model without downloading it again, confirms a model it already runs, and keeps only bundles in use', async () => {
    cp.tokens.add('one-time-token-0123456789');
    const stack = await inspectionStack();
    const dataDir = tmp();
    const bundlesDir = join(dataDir, 'bundles');
    const sync = new SyncService({
      client: new ControlPlaneClient(cp.url),
      state: new StateStore(join(dataDir, 'state.json')),
      models: stack.models,
      factory: (p, sha) => StandInInspector.load(p, sha),
      inspection: stack.service,
      outboxDepth: () => 0,
      bundlesDir,
      enrolToken: 'one-time-token-0123456789',
      hostname: 'h',
      agentVersion: '0.1.0',
      providers: ['cpu'],
      publicKey: null,
      heartbeatMs: 1000,
      backoff: { initialMs: 100, maxMs: 1000 },
      clock: new FakeClock(),
      logger: silent,
      metrics: stack.metrics,
    });
    const a = cp.offer(bundleBytes('6.0.0'), 'standin', '6.0.0');
    const b = cp.offer(bundleBytes('7.0.0'), 'standin', '7.0.0');
    cp.desired = { ...cp.desired, revision: 30, model: a, shadowModel: b, rolloutId: 'r30' };
    await sync.syncOnce();
    expect([stack.models.activeModel?.version, stack.models.shadowModel?.version]).toEqual([
      '6.0.0',
      '7.0.0',
    ]);
    expect(readdirSync(bundlesDir).sort()).toEqual([`${a.sha256}.tar`, `${b.sha256}.tar`].sort());
    const downloads = cp.downloads;

    cp.desired = { ...cp.desired, revision: 31, model: b, shadowModel: null, rolloutId: 'r31' };
    await sync.syncOnce();
    expect(cp.downloads).toBe(downloads);
    expect(stack.models.activeModel?.version).toBe('7.0.0');
    expect(stack.models.shadowModel).toBeNull();
    expect(sync.pendingReports.at(-1)).toMatchObject({
      model: { version: '7.0.0' },
      state: 'active',
      rolloutId: 'r31',
    });
    expect(readdirSync(bundlesDir)).toEqual([`${b.sha256}.tar`]);

    cp.desired = { ...cp.desired, revision: 32, rolloutId: 'r32' };
    await sync.syncOnce();
    expect(sync.pendingReports.at(-1)).toMatchObject({
      model: { version: '7.0.0' },
      state: 'active',
      rolloutId: 'r32',
    });
  });
});
