import type { KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleRef, DesiredState, Heartbeat, ModelActivation, ModelRef } from '@diad/protocol';
import type { Logger } from 'pino';
import { backoffDelay, type Clock } from '../clock.js';
import type { InspectionService } from '../inspection.js';
import type { ModelManager } from '../inspector/model-manager.js';
import type { InspectorFactory } from '../inspector/types.js';
import type { AgentMetrics } from '../metrics.js';
import { verifyBundle } from './bundle-verify.js';
import type { ControlPlaneClient } from './client.js';
import { isTransient, withRetry } from './retry.js';
import type { StateStore } from './state-store.js';

type Report = Heartbeat['modelReports'][number];

export interface SyncOptions {
  client: ControlPlaneClient;
  state: StateStore;
  models: ModelManager;
  factory: InspectorFactory;
  inspection: InspectionService;
  outboxDepth: () => number;
  /** Results set aside in the outbox (count, newest reason and time), for the fleet view. */
  setAside?: () => Heartbeat['setAside'];
  bundlesDir: string;
  enrolToken?: string;
  /** The device's ed25519 public key (base64 of 32 bytes), registered at enrolment. */
  devicePublicKey?: string;
  hostname: string;
  agentVersion: string;
  providers: string[];
  /** The start-up provider check, reported in every heartbeat (undefined for stand-in models). */
  accelerators?: () => Heartbeat['accelerators'];
  /** The PLC links (OPC UA, Modbus, S7), reported in every heartbeat. */
  plcLinks?: () => Heartbeat['plc'];
  publicKey: KeyObject | null;
  heartbeatMs: number;
  backoff: { initialMs: number; maxMs: number };
  /**
   * Tries per enrolment and per bundle download before the cycle fails (enrolment) or the activation is reported
   * failed (download), repeating only transient failures (timeout, reset, 5xx); default 4.
   */
  retryAttempts?: number;
  /**
   * How long a bundle download may keep failing transiently (after each cycle's tries) before the activation is
   * reported failed; until then the desired state stays unapplied and the next cycle tries again. Default 10 min.
   */
  downloadGiveUpMs?: number;
  clock: Clock;
  logger: Logger;
  metrics: AgentMetrics;
  /** Called after the active model or thresholds changed (status publishing, OPC UA). */
  onChange?: () => void;
  onEnrolled?: (enrolment: { deviceId: string; site: string; line: string; station: string }) => void;
}

/**
 * Control-plane sync: enrol once, then per cycle send a heartbeat (with the outcome of the last updates) and
 * apply the desired state: thresholds at once, a new model only after download, sha256 (and signature)
 * verification and a successful load + warm-up; the switch happens between frames. Any failure leaves the old
 * model running and is reported in the next heartbeat.
 */
export class SyncService {
  private reports: Report[] = [];
  private timer: unknown = null;
  private failures = 0;
  /** Since when each bundle's download (by sha256) has failed transiently, cycle after cycle. */
  private readonly downloadFailingSince = new Map<string, number>();
  private running = false;
  private cycle: Promise<void> | null = null;

  constructor(private readonly o: SyncOptions) {
    mkdirSync(o.bundlesDir, { recursive: true });
    const t = o.state.get().thresholds;
    if (t) o.inspection.setThresholds(t);
  }

  get enrolled(): boolean {
    return !!this.o.state.get().enrolment;
  }

  get pendingReports(): readonly Report[] {
    return this.reports;
  }

  start() {
    this.running = true;
    this.schedule(0);
  }

  async stop() {
    this.running = false;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.cycle;
  }

  /** One sync cycle; throws on failure (start() retries with backoff). */
  async syncOnce(): Promise<void> {
    const cred = await this.ensureEnrolled();
    const sent = this.reports.slice();
    await this.o.client.heartbeat(cred, this.heartbeat(sent));
    this.reports = this.reports.filter((r) => !sent.includes(r));
    const desired = await this.o.client.desiredState(cred);
    await this.apply(cred, desired);
  }

  private schedule(ms: number) {
    if (!this.running) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      this.cycle = this.syncOnce().then(
        () => {
          this.failures = 0;
          this.schedule(this.o.heartbeatMs);
        },
        (e: Error) => {
          const delay = backoffDelay(this.failures++, this.o.backoff.initialMs, this.o.backoff.maxMs);
          this.o.logger.warn({ err: e.message, retryInMs: delay }, 'control-plane sync failed');
          this.schedule(Math.min(delay, this.o.heartbeatMs * 4));
        },
      );
    }, ms);
  }

  private async ensureEnrolled(): Promise<string> {
    const existing = this.o.state.get().enrolment;
    if (existing) return existing.credential;
    if (!this.o.enrolToken)
      throw new Error('controlPlane.enrolToken: needed to enrol (no stored credential)');
    const req = {
      token: this.o.enrolToken,
      hostname: this.o.hostname,
      agentVersion: this.o.agentVersion,
      providers: this.o.providers,
      publicKey: this.o.devicePublicKey,
    };
    // The same request each time: a reply lost after the control plane committed is answered again with the same
    // device and credential (a different request with the used token would be refused).
    const res = await this.retrying('enrol', () => this.o.client.enrol(req));
    this.o.state.update({ enrolment: res });
    this.o.onEnrolled?.(res);
    this.o.logger.info(
      { deviceId: res.deviceId, site: res.site, line: res.line, station: res.station },
      'enrolled',
    );
    return res.credential;
  }

  private retrying<T>(call: 'enrol' | 'download', fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, {
      attempts: this.o.retryAttempts ?? 4,
      backoff: this.o.backoff,
      sleep: (ms) => new Promise((r) => this.o.clock.setTimeout(() => r(), ms)),
      onRetry: (e, attempt, delayMs) => {
        this.o.metrics.controlPlaneRetries.inc({ call });
        this.o.logger.warn({ call, attempt, retryInMs: delayMs, err: (e as Error).message }, 'retrying');
      },
    });
  }

  heartbeat(reports: Report[] = this.reports): Heartbeat {
    const outboxFull = this.o.inspection.outboxFull;
    const active = this.o.models.activeModel;
    return {
      schema: 'diad.heartbeat/v1',
      at: new Date(this.o.clock.now()).toISOString(),
      health: !active ? 'failing' : outboxFull ? 'degraded' : 'ok',
      provider: this.o.models.provider,
      queueDepth: this.o.inspection.queueDepth(),
      outboxDepth: this.o.outboxDepth(),
      activeModel: active,
      modelReports: reports,
      accelerators: this.o.accelerators?.(),
      plc: this.o.plcLinks?.(),
      setAside: this.o.setAside?.(),
    };
  }

  private async apply(cred: string, d: DesiredState) {
    const st = this.o.state.get();
    if (st.appliedRevision === d.revision) return;
    const thresholds = {
      version: d.thresholds?.version ?? 0,
      image: d.thresholds?.image ?? null,
      pixel: d.thresholds?.pixel ?? null,
      categoryThresholds: d.categoryThresholds,
    };
    this.o.inspection.setThresholds(thresholds);
    this.o.state.update({ thresholds });

    // A bundle no longer desired is forgotten: desired again later, its give-up time starts afresh.
    for (const sha of this.downloadFailingSince.keys())
      if (sha !== d.model?.sha256 && sha !== d.shadowModel?.sha256) this.downloadFailingSince.delete(sha);
    const { models } = this.o;
    let settled = true;
    const ref = (b: BundleRef): ModelRef => ({ name: b.name, version: b.version, sha256: b.sha256 });
    if (d.model && d.model.sha256 === models.activeModel?.sha256) {
      // Already running it (e.g. after a restart): confirm, so a rollout waiting for this device can go on.
      this.reports.push({ model: ref(d.model), state: 'active', error: null, rolloutId: d.rolloutId });
    } else if (d.model && d.model.sha256 === models.shadowModel?.sha256 && models.shadowInspector) {
      // Promotion of the shadow candidate: it is loaded and warm already.
      const inspector = models.shadowInspector;
      await models.activate(inspector);
      this.o.state.update({ activeBundle: this.o.state.get().shadowBundle, shadowBundle: null });
      this.reports.push({ model: ref(d.model), state: 'active', error: null, rolloutId: d.rolloutId });
      this.o.metrics.modelSwitches.inc({ outcome: 'activated' });
    } else if (d.model) {
      settled = await this.install(cred, d.model, 'active', d.rolloutId);
    }
    if (d.shadowModel && d.shadowModel.sha256 !== this.o.models.shadowModel?.sha256) {
      settled = (await this.install(cred, d.shadowModel, 'shadow', d.rolloutId)) && settled;
    } else if (!d.shadowModel && this.o.models.shadowModel) {
      await this.o.models.setShadow(null);
      this.o.state.update({ shadowBundle: null });
    }
    // A download still failing transiently leaves the revision unapplied: the next cycle tries it again.
    if (settled) this.o.state.update({ appliedRevision: d.revision });
    this.pruneBundles();
    this.o.onChange?.();
  }

  /**
   * Downloads, verifies, loads and switches to a bundle. Returns false when the download failed transiently and
   * the give-up time has not passed: nothing is reported and the caller leaves the desired state unapplied, so a
   * load balancer that has no replica for a while (a fleet all downloading at once) does not fail a rollout.
   */
  private async install(
    cred: string,
    ref: BundleRef,
    role: 'active' | 'shadow',
    rolloutId: string | null,
  ): Promise<boolean> {
    const model: ModelRef = { name: ref.name, version: ref.version, sha256: ref.sha256 };
    const report = (state: ModelActivation, error: string | null = null) =>
      this.reports.push({ model, state, error, rolloutId });
    const path = join(this.o.bundlesDir, `${ref.sha256}.tar`);
    try {
      // One 503 or reset from a loaded load balancer must not fail the activation (and roll a rollout back).
      const got = await this.retrying('download', () =>
        this.o.client.download(cred, ref.url, path, ref.bytes),
      );
      verifyBundle(got, ref, this.o.publicKey);
      const inspector = await this.o.factory(path, ref.sha256);
      if (role === 'active') {
        await this.o.models.activate(inspector);
        this.o.state.update({ activeBundle: { path, model: inspector.model } });
      } else {
        await this.o.models.setShadow(inspector);
        this.o.state.update({ shadowBundle: { path, model: inspector.model } });
      }
      this.downloadFailingSince.delete(ref.sha256);
      report(role);
      this.o.metrics.modelSwitches.inc({ outcome: role === 'active' ? 'activated' : 'shadow' });
      this.o.logger.info({ model, role }, 'model installed');
      return true;
    } catch (e) {
      const msg = (e as Error).message;
      // A bundle that failed verification or loading is never kept for a later start.
      if (this.o.state.get().activeBundle?.path !== path) rmSync(path, { force: true });
      const failingForMs = this.retryNextCycle(ref.sha256, e);
      if (failingForMs !== null) {
        this.o.logger.warn(
          { model, role, err: msg, failingForMs },
          'bundle download failed transiently; trying again next cycle',
        );
        return false;
      }
      report('failed', msg);
      this.o.metrics.modelSwitches.inc({ outcome: 'failed' });
      this.o.logger.error({ model, role, err: msg }, 'model update failed; keeping the current model');
      return true;
    }
  }

  /**
   * For a transient failure within the give-up time since this bundle's first one: how long it has been failing
   * (the caller tries again next cycle). Otherwise null, and the bundle's record is dropped.
   */
  private retryNextCycle(sha256: string, e: unknown): number | null {
    if (isTransient(e)) {
      const now = this.o.clock.now();
      const since = this.downloadFailingSince.get(sha256) ?? now;
      this.downloadFailingSince.set(sha256, since);
      if (now - since < (this.o.downloadGiveUpMs ?? 600_000)) return now - since;
    }
    this.downloadFailingSince.delete(sha256);
    return null;
  }

  /** Keeps only the bundles in use (active, shadow): downloaded bundles would otherwise fill the disk. */
  private pruneBundles() {
    const st = this.o.state.get();
    const keep = new Set([st.activeBundle?.path, st.shadowBundle?.path].filter(Boolean));
    let names: string[] = [];
    try {
      names = readdirSync(this.o.bundlesDir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(this.o.bundlesDir, n);
      if (!keep.has(p)) rmSync(p, { recursive: true, force: true });
    }
  }
}
