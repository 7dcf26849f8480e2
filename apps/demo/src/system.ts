import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Agent, parseConfig as parseAgentConfig } from '@diad/agent';
import { type ControlPlane, createControlPlane } from '@diad/control-plane';
import pino, { type Logger } from 'pino';
import { DemoBroker } from './broker.js';
import { packBundle } from './bundle-tar.js';
import { ControlPlaneApi, type FleetCodes, type FleetIds } from './control-plane-api.js';
import { pickPort } from './ports.js';
import { loadOrCreateSecrets, type Secrets } from './secrets.js';

export interface SystemOptions {
  /** Root of everything the system keeps: control-plane/, agent/, hot-folder/, secrets.json. */
  dataDir: string;
  /** The bundle folder registered and rolled out as the first model. */
  bundle: string;
  host?: string;
  /** Preferred ports (0 = any free port). */
  ports?: { controlPlane?: number; mqtt?: number; opcua?: number; agentHttp?: number };
  /** When a preferred port is taken, use another free one instead of failing (the demo does). */
  portFallback?: boolean;
  /** PostgreSQL instead of the embedded PGlite database. */
  database?: { url: string; schema?: string };
  /** PGlite folder; default `<dataDir>/control-plane/db` ("memory://" for a throw-away one). */
  pgliteDir?: string;
  /** An external broker (MQTT 5, shared subscriptions); default: the in-process aedes broker. */
  mqtt?: { url: string };
  /**
   * The control plane's MQTT session: a fixed client id makes it persistent, so the broker queues results while
   * the control plane is disconnected (default id "diad-cp-demo").
   */
  controlPlaneMqtt?: { clientId: string; sessionExpirySeconds?: number };
  fleet?: FleetCodes;
  heartbeatMs?: number;
  rolloutTickMs?: number;
  /** Agent MQTT/control-plane retry backoff. */
  backoff?: { initialMs: number; maxMs: number };
  /** Hot-folder scan period. */
  pollMs?: number;
  /** Image an ffmpeg trigger camera shows for OPC UA triggers (skipped when ffmpeg is missing). */
  triggerImage?: string;
  /** Loggers for the control plane and the agent (default: silent). */
  loggers?: { controlPlane: Logger; agent: Logger };
  /** Wait this long for the first model to become active on the agent. */
  modelTimeoutMs?: number;
}

export interface RunningSystem {
  cp: ControlPlane;
  api: ControlPlaneApi;
  agent: Agent;
  /** The in-process broker (null with an external one). */
  broker: DemoBroker | null;
  fleet: FleetCodes & FleetIds;
  deviceId: string;
  model: { name: string; version: string };
  secrets: Secrets;
  hotFolder: string;
  urls: { controlPlane: string; docs: string; mqtt: string; opcua: string; agentHttp: string };
  /** True when the agent has an OPC UA trigger camera (ffmpeg found). */
  triggerCamera: boolean;
  close(): Promise<void>;
}

const DEFAULT_FLEET: FleetCodes = { site: 'demo-site', line: 'line-1', station: 'st1' };
export const PLC_USER = 'plc';
export const hasFfmpeg = (): boolean => spawnSync('ffmpeg', ['-version']).status === 0;

/**
 * Starts the whole system in this process: MQTT broker, control plane (seeded: admin, site/line/station, the
 * bundle registered and rolled out), and one enrolled agent with its OPC UA server and hot folder. Every seeding
 * step is idempotent, so a second start on the same dataDir resumes.
 */
export async function startSystem(o: SystemOptions): Promise<RunningSystem> {
  const host = o.host ?? '127.0.0.1';
  const dataDir = resolve(o.dataDir);
  const fleetCodes = o.fleet ?? DEFAULT_FLEET;
  const fallback = o.portFallback ?? false;
  const silent = pino({ level: 'silent' });
  const logs = o.loggers ?? { controlPlane: silent, agent: silent };
  mkdirSync(dataDir, { recursive: true });
  const secrets = loadOrCreateSecrets(join(dataDir, 'secrets.json'));
  const packed = await packBundle(o.bundle);

  const cleanup: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => {});
  };
  try {
    let broker: DemoBroker | null = null;
    let mqttUrl: string;
    if (o.mqtt) mqttUrl = o.mqtt.url;
    else {
      broker = new DemoBroker(host, await pickPort(host, o.ports?.mqtt ?? 0, fallback));
      await broker.start();
      const b = broker;
      cleanup.push(() => b.stop());
      mqttUrl = broker.url;
    }

    const cp = await createControlPlane(
      {
        host,
        port: await pickPort(host, o.ports?.controlPlane ?? 0, fallback),
        dataDir: o.pgliteDir ?? join(dataDir, 'control-plane', 'db'),
        blobDir: join(dataDir, 'control-plane', 'blobs'),
        databaseUrl: o.database?.url,
        databaseSchema: o.database?.schema ?? 'public',
        mqttUrl,
        // One control plane: a plain subscription in a persistent session, which brokers keep across their own
        // restarts (aedes 1.x has no shared subscriptions; Mosquitto 2.0.11 restores a shared one that then
        // delivers nothing). aedes speaks MQTT 3.1.1 only.
        mqttGroup: '',
        mqttProtocol: o.mqtt ? 5 : 4,
        mqttClientId: o.controlPlaneMqtt?.clientId ?? 'diad-cp-demo',
        mqttSessionExpirySeconds: o.controlPlaneMqtt?.sessionExpirySeconds,
        jwtSecret: secrets.jwtSecret,
        adminPassword: secrets.adminPassword,
        rolloutTickMs: o.rolloutTickMs ?? 1000,
        logLevel: logs.controlPlane.level as 'info',
      },
      { log: logs.controlPlane },
    );
    cleanup.push(() => cp.close());
    const api = await ControlPlaneApi.login(cp.url, 'admin', secrets.adminPassword);
    const ids = await api.ensureFleet(fleetCodes);
    const registered = await api.ensureModel(
      packed.tar,
      packed.manifest.model.name,
      packed.manifest.model.version,
    );

    const agentDir = join(dataDir, 'agent');
    const enrolToken = await enrolmentTokenIfNeeded(api, agentDir, ids.stationId);
    const opcuaPort = await pickPort(host, o.ports?.opcua ?? 0, fallback);
    const agentHttpPort = await pickPort(host, o.ports?.agentHttp ?? 0, fallback);
    const hotFolder = join(dataDir, 'hot-folder');
    const camera = o.triggerImage && hasFfmpeg() ? triggerCamera(o.triggerImage, fleetCodes.station) : null;
    const agent = await Agent.start(
      parseAgentConfig(
        {
          site: fleetCodes.site,
          line: fleetCodes.line,
          deviceId: 'demo-edge-1',
          dataDir: agentDir,
          model: { kind: 'diad' },
          stations: [{ id: fleetCodes.station, triggerCamera: camera?.id }],
          sources: {
            hotFolders: [
              {
                path: hotFolder,
                station: fleetCodes.station,
                camera: 'hot-folder',
                pollMs: o.pollMs ?? 100,
                settleMs: 0,
              },
            ],
            cameras: camera ? [camera] : [],
          },
          // The demo's own broker is aedes (MQTT 3.1.1 only); an external one gets the default, MQTT 5.
          mqtt: { url: mqttUrl, backoff: o.backoff, protocolVersion: o.mqtt ? 5 : 4 },
          opcua: {
            port: opcuaPort,
            // Demo only: no message security (a plant uses Sign/SignAndEncrypt with trusted certificates).
            securityModes: ['None'],
            securityPolicies: ['Basic256Sha256'],
            users: [{ username: PLC_USER, password: secrets.plcPassword }],
            samplingIntervalMs: 50,
          },
          http: { host, port: agentHttpPort },
          controlPlane: {
            url: cp.url,
            enrolToken,
            heartbeatMs: o.heartbeatMs ?? 2000,
            backoff: o.backoff,
          },
        },
        'demo agent config',
      ),
      { logger: logs.agent },
    );
    cleanup.push(() => agent.stop());

    const deviceId = await waitFor(
      async () => agent.state.get().enrolment?.deviceId ?? null,
      30_000,
      'the agent to enrol',
    );
    const want = { name: packed.manifest.model.name, version: packed.manifest.model.version };
    const desired = await api.desiredModel(deviceId);
    // First start, or a bundle this start registered: roll it out. Otherwise keep what the operator chose.
    if (!desired || (registered.uploaded && (desired.name !== want.name || desired.version !== want.version)))
      await api.rollOut(want, ids.stationId, 'demo: model from the demo bundle');
    await waitFor(
      async () => (agent.models.activeModel ? true : null),
      o.modelTimeoutMs ?? 120_000,
      'the agent to activate its first model',
    );

    return {
      cp,
      api,
      agent,
      broker,
      fleet: { ...fleetCodes, ...ids },
      deviceId,
      model: want,
      secrets,
      hotFolder,
      triggerCamera: camera !== null,
      urls: {
        controlPlane: cp.url,
        docs: `${cp.url}/docs`,
        mqtt: mqttUrl,
        opcua: `opc.tcp://${host}:${opcuaPort}`,
        agentHttp: `http://${host}:${agentHttpPort}`,
      },
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** A one-time token when the agent holds no credential the control plane knows; null when it is enrolled. */
async function enrolmentTokenIfNeeded(
  api: ControlPlaneApi,
  agentDir: string,
  stationId: string,
): Promise<string | undefined> {
  const statePath = join(agentDir, 'state.json');
  if (existsSync(statePath)) {
    const deviceId = (JSON.parse(readFileSync(statePath, 'utf8')) as { enrolment?: { deviceId?: string } })
      .enrolment?.deviceId;
    if (deviceId && (await api.deviceExists(deviceId))) return undefined;
    if (deviceId) {
      // The control plane does not know this credential (its database was reset): enrol afresh.
      renameSync(statePath, `${statePath}.orphaned-${Date.now()}`);
    }
  }
  return api.createEnrolmentToken(stationId, 'demo edge agent');
}

/** An ffmpeg lavfi camera that shows one still image, for OPC UA triggers. */
function triggerCamera(image: string, station: string) {
  const path = resolve(image);
  if (!/^[A-Za-z0-9/._-]+$/.test(path))
    throw new RangeError(
      `triggerImage: path must be plain letters, digits, "/._-" (ffmpeg filter syntax): ${path}`,
    );
  const { width, height } = pngSize(path);
  return {
    id: 'plc-cam',
    station,
    input: 'lavfi' as const,
    url: `movie=${path}:loop=0,setpts=N/(5*TB),realtime`,
    width,
    height,
    mode: 'trigger' as const,
  };
}

function pngSize(path: string): { width: number; height: number } {
  const fd = openSync(path, 'r');
  const h = Buffer.alloc(24);
  readSync(fd, h, 0, 24, 0);
  closeSync(fd);
  if (h.toString('latin1', 1, 4) !== 'PNG') throw new TypeError(`triggerImage: ${path} is not a PNG file`);
  return { width: h.readUInt32BE(16), height: h.readUInt32BE(20) };
}

export async function waitFor<T>(fn: () => Promise<T | null>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
