import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Provider } from '@diad/pipeline';
import { type InspectionResult, loggerOptions, type PlcLink } from '@diad/protocol';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { type Clock, systemClock } from './clock.js';
import type { AgentConfig } from './config.js';
import type { Frame, FrameInput } from './frame.js';
import { createHttpServer } from './http/server.js';
import { ImageStore } from './images.js';
import { InspectionService } from './inspection.js';
import { type AcceleratorCheck, checkAccelerators } from './inspector/accelerators.js';
import { DiadInspector } from './inspector/diad.js';
import { ModelManager } from './inspector/model-manager.js';
import { StandInInspector } from './inspector/standin.js';
import type { InspectorFactory } from './inspector/types.js';
import { AgentMetrics } from './metrics.js';
import { EmbeddedBroker } from './mqtt/broker.js';
import { StationPublisher } from './mqtt/publisher.js';
import { SparkplugNode } from './mqtt/sparkplug-node.js';
import { JetStreamSink } from './nats/jetstream-sink.js';
import type { VisionRecipe } from './opcua/machine-vision.js';
import type { AgentOpcuaServer } from './opcua/server.js';
import { OutboxDrainer } from './outbox/drainer.js';
import { SqliteOutbox } from './outbox/sqlite.js';
import type { ModbusPlcServer } from './plc/modbus-server.js';
import type { S7Output } from './plc/s7-output.js';
import { FfmpegCamera } from './sources/ffmpeg-camera.js';
import { HotFolderSource } from './sources/hot-folder.js';
import { ArtifactUploader } from './sync/artifact-uploader.js';
import { loadPublicKey } from './sync/bundle-verify.js';
import { ControlPlaneClient } from './sync/client.js';
import { type DeviceKey, loadOrCreateDeviceKey } from './sync/device-key.js';
import { HttpResultSink } from './sync/http-result-sink.js';
import { StateStore } from './sync/state-store.js';
import { SyncService } from './sync/sync-service.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentDeps {
  logger?: Logger;
  clock?: Clock;
  /** Overrides how bundles are loaded (default: by config.model.kind). */
  factory?: InspectorFactory;
}

/** Stable id of a bundle: sha256 of a .tar/.json file, or of manifest.json for a bundle directory. */
export function bundleSha256(path: string): string {
  const file = statSync(path).isDirectory() ? join(path, 'manifest.json') : path;
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Wires the agent together from a validated config; stop() shuts everything down in reverse order. */
export class Agent {
  readonly logger: Logger;
  readonly metrics = new AgentMetrics();
  readonly models = new ModelManager();
  readonly state: StateStore;
  /** The device's own signing key (results and status on the bus are signed with it). */
  readonly deviceKey: DeviceKey;
  readonly outbox: SqliteOutbox;
  readonly inspection: InspectionService;
  readonly publishers = new Map<string, StationPublisher>();
  readonly drainers = new Map<string, OutboxDrainer>();
  private readonly jetstreamSinks: JetStreamSink[] = [];
  readonly cameras = new Map<string, FfmpegCamera>();
  readonly hotFolders: HotFolderSource[] = [];
  broker: EmbeddedBroker | null = null;
  opcua: AgentOpcuaServer | null = null;
  modbus: ModbusPlcServer | null = null;
  s7: S7Output | null = null;
  private s7Outbox: SqliteOutbox | null = null;
  http: FastifyInstance | null = null;
  sync: SyncService | null = null;
  sparkplug: SparkplugNode | null = null;
  uploader: ArtifactUploader | null = null;
  httpSink: HttpResultSink | null = null;
  private readonly clock: Clock;
  private readonly factory: InspectorFactory;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The start-up provider check (DiAD models only). */
  accelerators: AcceleratorCheck | null = null;
  deviceId: string;

  private constructor(
    readonly config: AgentConfig,
    deps: AgentDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? pino(loggerOptions('diad-agent', config.log.level));
    mkdirSync(config.dataDir, { recursive: true });
    this.state = new StateStore(join(config.dataDir, 'state.json'));
    this.deviceKey = loadOrCreateDeviceKey(join(config.dataDir, 'device-key.json'));
    this.deviceId = this.state.get().enrolment?.deviceId ?? config.deviceId;
    this.factory =
      deps.factory ??
      (config.model.kind === 'standin'
        ? (p, sha) => StandInInspector.load(p, sha)
        : (p, sha) =>
            DiadInspector.load(p, sha, {
              // Providers that failed the start-up check are not tried for every bundle again; CPU stays last.
              providers: this.usableProviders(),
              threads: config.model.threads,
              device: this.accelerators?.device,
            }));
    this.outbox = new SqliteOutbox(join(config.dataDir, 'outbox.db'), {
      capacityBytes: Math.floor(config.outbox.capacityMb * 1024 * 1024),
      synchronous: config.outbox.synchronous,
      onQuarantine: (to, err) =>
        this.logger.error(
          { movedTo: to, err: err.message },
          'outbox database unreadable: moved aside, started a new one',
        ),
    });
    this.inspection = new InspectionService({
      deviceId: this.deviceId,
      stations: config.stations.map((s) => ({ id: s.id, queueSize: s.queueSize, category: s.category })),
      models: this.models,
      outbox: this.outbox,
      clock: this.clock,
      metrics: this.metrics,
      logger: this.logger,
      images: new ImageStore(join(config.dataDir, 'images'), config.images.retentionDays, this.clock),
      saveImages: config.images.save,
      okSampleRate: config.images.okSampleRate,
      seed: config.model.seed,
    });
    if (config.thresholds) {
      this.inspection.setThresholds({
        version: 0,
        image: config.thresholds.image,
        pixel: config.thresholds.pixel,
        categoryThresholds: {},
      });
    }
  }

  static async start(config: AgentConfig, deps: AgentDeps = {}): Promise<Agent> {
    const agent = new Agent(config, deps);
    try {
      await agent.startAll();
    } catch (e) {
      await agent.stop().catch(() => {});
      throw e;
    }
    return agent;
  }

  /** Reasons the agent is not ready (empty = ready). */
  readiness(): string[] {
    const r: string[] = [];
    if (!this.models.activeModel) r.push('no model loaded');
    if (this.inspection.outboxFull) r.push('outbox full');
    return r;
  }

  submit = (frame: Frame): Promise<InspectionResult> => this.inspection.submit(frame);

  private usableProviders(): Provider[] {
    const configured = this.config.model.providers;
    const usable = this.accelerators?.usable ?? configured;
    const list = configured.filter((p) => usable.includes(p));
    return list.length ? list : ['cpu'];
  }

  /** Checks each configured provider once, so every model load and the fleet view know what this box can run. */
  private async checkProviders() {
    if (this.config.model.kind !== 'diad') return;
    try {
      this.accelerators = await checkAccelerators(this.config.model.providers);
    } catch (e) {
      this.logger.error(
        { err: (e as Error).message },
        'execution provider check failed; using the configured list',
      );
      return;
    }
    const { report } = this.accelerators;
    for (const c of report.checks) {
      this.metrics.providerUsable.set({ provider: c.provider, status: c.status }, 1);
      if (c.status !== 'ok')
        this.logger.warn(
          { provider: c.provider, status: c.status, reason: c.reason },
          'execution provider not usable',
        );
    }
    this.logger.info({ usable: this.accelerators.usable, gpu: report.gpu }, 'execution providers checked');
  }

  /** What the heartbeat reports about accelerators: the start-up check and the active model's variant. */
  acceleratorReport() {
    if (!this.accelerators) return undefined;
    return { ...this.accelerators.report, variant: this.models.variant };
  }

  private async startAll() {
    const c = this.config;
    await this.checkProviders();
    await this.loadInitialModels();

    if (c.mqtt.enabled) await this.startMqtt();
    this.inspection.on('result', (r) => this.drainers.get(r.station)?.kick());
    this.inspection.on('alarm', () => {
      void this.publishStatus();
      this.opcua?.refresh();
    });

    if (c.opcua.enabled) await this.startOpcua();
    if (c.plc.modbus.enabled) await this.startModbus();
    if (c.plc.s7.enabled) await this.startS7();
    for (const h of c.sources.hotFolders) {
      const src = new HotFolderSource({
        ...h,
        site: c.site,
        line: c.line,
        submit: this.submit,
        logger: this.logger,
      });
      src.start();
      this.hotFolders.push(src);
    }
    for (const cam of c.sources.cameras) {
      const camera = new FfmpegCamera({
        ...cam,
        site: c.site,
        line: c.line,
        submit: this.submit,
        logger: this.logger,
      });
      camera.start();
      this.cameras.set(cam.id, camera);
    }
    this.http = await createHttpServer({
      host: c.http.host,
      port: c.http.port,
      maxBodyBytes: Math.floor(c.http.maxBodyMb * 1024 * 1024),
      site: c.site,
      line: c.line,
      registry: this.metrics.registry,
      readiness: () => this.readiness(),
      submit: c.sources.http ? this.submit : undefined,
      frameToken: c.http.frameToken,
    });
    if (c.controlPlane) this.startSync(c.controlPlane);

    const images = new ImageStore(join(c.dataDir, 'images'), c.images.retentionDays, this.clock);
    const sweep = () => {
      const removed = images.sweep();
      if (removed.length) this.logger.info({ removed }, 'image retention sweep');
    };
    sweep();
    this.every(c.images.sweepMs, sweep);
    this.every(30_000, () => void this.publishStatus());
    this.logger.info(
      { deviceId: this.deviceId, stations: c.stations.map((s) => s.id), model: this.models.activeModel },
      'agent started',
    );
  }

  private async loadInitialModels() {
    const c = this.config;
    const st = this.state.get();
    const candidates = [st.activeBundle?.path, c.model.bundle].filter((p): p is string => !!p);
    for (const path of candidates) {
      try {
        await this.models.activate(await this.factory(path, bundleSha256(path)));
        break;
      } catch (e) {
        this.logger.error({ bundle: path, err: (e as Error).message }, 'could not load model bundle');
      }
    }
    const shadow = st.shadowBundle?.path ?? c.model.shadowBundle;
    if (shadow) {
      try {
        await this.models.setShadow(await this.factory(shadow, bundleSha256(shadow)));
      } catch (e) {
        this.logger.error({ bundle: shadow, err: (e as Error).message }, 'could not load shadow model');
      }
    }
  }

  private statusOf(station: string) {
    return {
      deviceId: this.deviceId,
      state: (this.readiness().length ? 'degraded' : 'online') as 'online' | 'degraded',
      model: this.models.activeModel,
      provider: this.models.provider,
      queueDepth: this.inspection.queueDepth(station),
      outboxDepth: this.outbox.depth(station),
    };
  }

  /** The broker login the control plane handed out at enrolment (BROKER_IDENTITIES), when it did. */
  private enrolledBroker(): { username: string; password: string } | undefined {
    return this.state.get().enrolment?.broker;
  }

  /**
   * The MQTT login for results and status: the enrolled broker identity when there is one (it replaces
   * mqtt.username/password), except against the embedded broker, which knows only its configured login.
   */
  private brokerLogin(): { username?: string; password?: string } {
    const m = this.config.mqtt;
    const enrolled = m.embeddedBroker.enabled ? undefined : this.enrolledBroker();
    return enrolled ?? { username: m.username, password: m.password };
  }

  /** After enrolment: the station publishers and JetStream sinks log in again with the device's own broker login. */
  private useEnrolledBroker() {
    const b = this.enrolledBroker();
    if (!b || this.config.mqtt.embeddedBroker.enabled) return;
    this.logger.info({ username: b.username }, 'using the broker login handed out at enrolment');
    for (const p of this.publishers.values()) p.link.setCredentials(b.username, b.password);
    for (const j of this.jetstreamSinks) j.setCredentials(b.username, b.password);
  }

  private async startMqtt() {
    const c = this.config;
    const m = c.mqtt;
    let url = m.url;
    if (m.embeddedBroker.enabled) {
      const eb = m.embeddedBroker;
      this.broker = await EmbeddedBroker.start(
        eb.host,
        eb.port,
        eb.username
          ? { username: eb.username, password: eb.password, passwordHash: eb.passwordHash }
          : undefined,
      );
      url = `mqtt://${m.embeddedBroker.host === '0.0.0.0' ? '127.0.0.1' : m.embeddedBroker.host}:${this.broker.port}`;
      this.logger.info({ url }, 'embedded MQTT broker started');
    }
    const login = this.brokerLogin();
    const connection = {
      url,
      username: login.username,
      password: login.password,
      tls: m.tls,
      keepaliveS: m.keepaliveS,
      backoff: m.backoff,
    };
    // aedes (the embedded broker) refuses MQTT 5 CONNECTs, so results go to it over 3.1.1.
    const protocolVersion = m.embeddedBroker.enabled ? 4 : m.protocolVersion;
    if (m.embeddedBroker.enabled && m.protocolVersion === 5)
      this.logger.info('embedded broker speaks MQTT 3.1.1: publishing results with protocol level 4');
    for (const s of c.stations) {
      const pub = new StationPublisher({
        address: { site: c.site, line: c.line, station: s.id },
        connection: {
          ...connection,
          protocolVersion,
          clientId: m.clientId ? `${m.clientId}-${s.id}` : undefined,
        },
        deviceId: this.deviceId,
        status: () => this.statusOf(s.id),
        sign: this.deviceKey.sign,
        clock: this.clock,
        logger: this.logger,
      });
      const js = m.jetstream.enabled
        ? new JetStreamSink({
            servers: m.jetstream.servers,
            user: this.enrolledBroker()?.username ?? m.jetstream.user,
            password: this.enrolledBroker()?.password ?? m.jetstream.password,
            address: { site: c.site, line: c.line, station: s.id },
            logger: this.logger,
            sign: this.deviceKey.sign,
          })
        : null;
      if (js) this.jetstreamSinks.push(js);
      const drainer = new OutboxDrainer({
        outbox: this.outbox,
        station: s.id,
        sink: js ?? pub,
        clock: this.clock,
        backoff: m.backoff,
        inflight: c.outbox.inflight,
        logger: this.logger,
        onAcked: (n, ms) => {
          this.metrics.published.inc(n);
          this.metrics.stageSeconds.observe({ stage: 'publish' }, ms / 1000);
        },
        onDeleted: () => {
          this.inspection.refreshOutboxGauges();
          if (this.inspection.outboxFull === false) this.opcua?.refresh();
        },
        onFailure: () => this.metrics.publishFailures.inc(),
        onRefused: () => this.metrics.resultsSetAside.inc(),
        onBrokerRefused: (reason) => this.metrics.publishRefused.inc({ reason }),
      });
      pub.on('down', () => this.metrics.publishFailures.inc());
      this.publishers.set(s.id, pub);
      this.drainers.set(s.id, drainer);
      pub.start();
      js?.start();
      drainer.start();
    }
    if (m.sparkplug.enabled) {
      this.sparkplug = new SparkplugNode({
        // Sparkplug topics are outside a device's provisioned permissions: it keeps the configured login.
        connection: {
          ...connection,
          username: m.username,
          password: m.password,
          clientId: `${m.clientId ?? `diad-${this.deviceId}`}-spb`.slice(0, 64),
        },
        groupId: m.sparkplug.groupId,
        edgeNodeId: m.sparkplug.edgeNodeId ?? this.deviceId.replace(/[^A-Za-z0-9_.-]/g, '_'),
        stations: c.stations.map((s) => s.id),
        dataDir: c.dataDir,
        clock: this.clock,
        logger: this.logger,
      });
      this.sparkplug.start();
      this.inspection.on('result', (r) => this.sparkplug?.publishResult(r));
    }
  }

  private async startOpcua() {
    const c = this.config;
    // node-opcua is large; installs without OPC UA never load it.
    const { AgentOpcuaServer } = await import('./opcua/server.js');
    this.opcua = new AgentOpcuaServer({
      ...c.opcua,
      machineVision: c.opcua.machineVision ? { recipes: (station) => this.recipesFor(station) } : null,
      pkiDir: c.opcua.pkiDir!,
      trustListReloadMs: 10_000,
      stations: c.stations.map((s) => s.id),
      canAccept: this.canTrigger,
      agentStatus: () => ({
        ready: this.readiness().length === 0,
        modelName: this.models.activeModel?.name ?? '',
        modelVersion: this.models.activeModel?.version ?? '',
        outboxDepth: this.outbox.depth(),
        outboxFull: this.inspection.outboxFull,
      }),
      logger: this.logger,
      trigger: this.triggerInspection,
    });
    await this.opcua.start();
    this.inspection.on('result', (r) => this.opcua?.onResult(r));
  }

  /**
   * A PLC trigger (OPC UA, Modbus): inspects the station's trigger camera's latest frame. Resolves with the
   * stored result; a missing camera or frame gives a stored error result, so the PLC handshake always completes.
   */
  triggerInspection = async (station: string, partId: string): Promise<InspectionResult> => {
    const c = this.config;
    const spec = c.stations.find((s) => s.id === station)!;
    const meta = {
      site: c.site,
      line: c.line,
      station,
      camera: spec.triggerCamera ?? 'none',
      partId,
      capturedAt: this.clock.now(),
      category: spec.category,
    };
    const camera = spec.triggerCamera ? this.cameras.get(spec.triggerCamera) : undefined;
    if (!camera)
      return this.inspection.recordCaptureFailure(
        meta,
        'NO_CAMERA',
        `station ${station} has no triggerCamera`,
      );
    let image: FrameInput;
    try {
      image = await camera.grab();
    } catch (e) {
      return this.inspection.recordCaptureFailure(meta, 'NO_FRAME', (e as Error).message);
    }
    return this.inspection.submit({ ...meta, image });
  };

  /** The state of each enabled PLC interface (heartbeat → fleet view). */
  plcLinks(): PlcLink[] {
    const links: PlcLink[] = [];
    if (this.opcua) {
      const n = this.opcua.sessionCount;
      links.push({ interface: 'opcua', state: n > 0 ? 'up' : 'idle', clients: n, detail: null });
    }
    if (this.modbus) {
      const m = this.modbus.linkState();
      links.push({
        interface: 'modbus',
        state: !m.listening ? 'down' : m.clients > 0 ? 'up' : 'idle',
        clients: m.clients,
        detail: m.refusedConnections ? `${m.refusedConnections} connections refused` : null,
      });
    }
    if (this.s7) {
      const s = this.s7.linkState();
      links.push({
        interface: 's7',
        state: s.connected ? 'up' : 'down',
        pending: s.pending,
        detail: s.connected ? null : (s.lastError?.slice(0, 200) ?? 'connecting'),
      });
    }
    return links;
  }

  /**
   * OPC 40100 recipes of a station: the active model version with the thresholds in force and the station's
   * category (one recipe while one model is active).
   */
  recipesFor(station: string): VisionRecipe[] {
    const m = this.models.activeModel;
    if (!m) return [];
    const category = this.config.stations.find((s) => s.id === station)?.category ?? null;
    const t = this.inspection.thresholdPolicy;
    const image =
      category && t.categoryThresholds[category] !== undefined ? t.categoryThresholds[category] : t.image;
    return [
      {
        id: `${m.name}@${m.version}${category ? `#${category}` : ''}`,
        modelName: m.name,
        modelVersion: m.version,
        modelSha256: m.sha256,
        category,
        thresholds: { version: t.version, image, pixel: t.pixel },
      },
    ];
  }

  /** Whether a PLC trigger for this station can be accepted now. */
  canTrigger = (station: string): boolean => this.inspection.canAccept(station) && !!this.models.activeModel;

  private async startModbus() {
    const m = this.config.plc.modbus;
    const { ModbusPlcServer } = await import('./plc/modbus-server.js');
    this.modbus = new ModbusPlcServer({
      host: m.host,
      port: m.port,
      allowedClients: m.allowedClients,
      stations: this.config.stations.map((s) => s.id),
      trigger: this.triggerInspection,
      canAccept: this.canTrigger,
      logger: this.logger,
    });
    await this.modbus.start();
  }

  /** S7 data-block output: its own outbox, so PLC delivery and MQTT delivery never delete each other's work. */
  private async startS7() {
    const s7 = this.config.plc.s7;
    const { S7Output } = await import('./plc/s7-output.js');
    this.s7Outbox = new SqliteOutbox(join(this.config.dataDir, 'plc-s7-outbox.db'), {
      capacityBytes: Math.floor(this.config.outbox.capacityMb * 1024 * 1024),
      synchronous: this.config.outbox.synchronous,
    });
    this.s7 = new S7Output({ ...s7, outbox: this.s7Outbox, clock: this.clock, logger: this.logger });
    this.inspection.on('result', (r) => {
      try {
        this.s7?.enqueue(r);
      } catch (e) {
        this.logger.error({ resultId: r.resultId, err: (e as Error).message }, 'S7 outbox refused a result');
      }
    });
    this.s7.start();
  }

  private startSync(cp: NonNullable<AgentConfig['controlPlane']>) {
    const client = new ControlPlaneClient(cp.url);
    if (this.config.images.upload && this.config.images.save !== 'none') {
      const uploader = new ArtifactUploader({
        dbPath: join(this.config.dataDir, 'artifacts.db'),
        imagesRoot: join(this.config.dataDir, 'images'),
        client,
        credential: () => this.state.get().enrolment?.credential ?? null,
        clock: this.clock,
        backoff: cp.backoff,
        logger: this.logger,
      });
      this.inspection.on('result', (r) => {
        if (r.imageRef) uploader.enqueue(r.resultId, 'image', r.imageRef);
        if (r.heatmapRef) uploader.enqueue(r.resultId, 'heatmap', r.heatmapRef);
      });
      uploader.start();
      this.every(60_000, () => uploader.poke());
      this.uploader = uploader;
    }
    if (!this.config.mqtt.enabled) this.startHttpDelivery(client, cp.backoff);
    const token =
      cp.enrolToken ?? (cp.enrolTokenFile ? readFileSync(cp.enrolTokenFile, 'utf8').trim() : undefined);
    this.sync = new SyncService({
      client,
      state: this.state,
      models: this.models,
      factory: this.factory,
      inspection: this.inspection,
      devicePublicKey: this.deviceKey.publicKey,
      outboxDepth: () => this.outbox.depth(),
      setAside: () => {
        const last = this.outbox.setAsideList(1)[0];
        // The reason travels in a schema that refuses control characters and bounds its size.
        const reason = last
          ? [...last.reason.slice(0, 1000)].map((ch) => (isControl(ch) ? '?' : ch)).join('')
          : null;
        return { count: this.outbox.setAsideCount(), lastReason: reason, lastAt: last?.at ?? null };
      },
      bundlesDir: join(this.config.dataDir, 'bundles'),
      enrolToken: token,
      hostname: hostname(),
      agentVersion: AGENT_VERSION,
      providers: this.config.model.providers,
      accelerators: () => this.acceleratorReport(),
      plcLinks: () => this.plcLinks(),
      publicKey: cp.signingPublicKeyFile ? loadPublicKey(cp.signingPublicKeyFile) : null,
      heartbeatMs: cp.heartbeatMs,
      backoff: cp.backoff,
      downloadGiveUpMs: cp.downloadGiveUpMs,
      clock: this.clock,
      logger: this.logger,
      metrics: this.metrics,
      onEnrolled: (e) => {
        this.deviceId = e.deviceId;
        this.inspection.setDeviceId(e.deviceId);
        const c = this.config;
        if (e.site !== c.site || e.line !== c.line || !c.stations.some((s) => s.id === e.station)) {
          this.logger.warn(
            {
              enrolledAs: { site: e.site, line: e.line, station: e.station },
              config: { site: c.site, line: c.line },
            },
            'the control plane registered this device under a different site/line/station than agent.yaml; topics follow agent.yaml',
          );
        }
        this.uploader?.poke();
        this.httpSink?.enrolled();
        this.useEnrolledBroker();
      },
      onChange: () => {
        void this.publishStatus();
        this.opcua?.refresh();
      },
    });
    this.sync.start();
  }

  /** Without MQTT, results go to the control plane over HTTP, drained per station like the MQTT path. */
  private startHttpDelivery(client: ControlPlaneClient, backoff: { initialMs: number; maxMs: number }) {
    const sink = new HttpResultSink(client, () => this.state.get().enrolment?.credential ?? null);
    this.httpSink = sink;
    for (const s of this.config.stations) {
      const drainer = new OutboxDrainer({
        outbox: this.outbox,
        station: s.id,
        sink,
        clock: this.clock,
        backoff,
        inflight: this.config.outbox.inflight,
        logger: this.logger,
        onAcked: (n, ms) => {
          this.metrics.published.inc(n);
          this.metrics.stageSeconds.observe({ stage: 'publish' }, ms / 1000);
        },
        onDeleted: () => {
          this.inspection.refreshOutboxGauges();
          this.opcua?.refresh();
        },
        onFailure: () => this.metrics.publishFailures.inc(),
        onRefused: () => this.metrics.resultsSetAside.inc(),
        onBrokerRefused: (reason) => this.metrics.publishRefused.inc({ reason }),
      });
      this.drainers.set(s.id, drainer);
      drainer.start();
    }
  }

  private async publishStatus() {
    for (const p of this.publishers.values()) await p.publishStatus().catch(() => {});
  }

  private every(ms: number, fn: () => void) {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.sync?.stop();
    await this.uploader?.stop();
    for (const h of this.hotFolders) await h.stop();
    for (const cam of this.cameras.values()) await cam.stop();
    await this.http?.close();
    await this.inspection.stop();
    await this.opcua?.stop();
    await this.modbus?.stop();
    await this.s7?.stop();
    this.s7Outbox?.close();
    for (const d of this.drainers.values()) await d.stop();
    for (const p of this.publishers.values()) await p.close();
    for (const j of this.jetstreamSinks) await j.close();
    await this.sparkplug?.close();
    await this.broker?.close();
    await this.models.close();
    this.outbox.close();
    this.logger.info('agent stopped');
  }
}

/** C0 controls but tab and line breaks, and DEL: what the protocol's text fields refuse. */
function isControl(ch: string): boolean {
  const c = ch.charCodeAt(0);
  return (c < 0x20 && ch !== '\t' && ch !== '\n' && ch !== '\r') || c === 0x7f;
}
