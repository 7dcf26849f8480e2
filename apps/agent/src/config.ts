import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { isPasswordHash } from './security/passwords.js';

const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected letters, digits, "_", "." or "-" (max 64)');
const port = z.number().int().min(0).max(65535);
const backoff = z
  .object({
    initialMs: z.number().int().positive().default(500),
    maxMs: z.number().int().positive().default(30_000),
  })
  .prefault({});

const Station = z.object({
  id,
  /** Frames waiting for the model; a frame arriving when it is full gets a result in state "overrun". */
  queueSize: z.number().int().min(1).max(10_000).default(8),
  /** Camera whose latest frame an OPC UA Trigger inspects. */
  triggerCamera: id.optional(),
  /** Category name for per-category thresholds from the control plane. */
  category: z.string().max(64).optional(),
});

const HotFolder = z.object({
  path: z.string().min(1),
  station: id,
  camera: id.default('folder'),
  pollMs: z.number().int().min(10).default(500),
  /** A file counts as fully written when its size and mtime have not changed for this long. */
  settleMs: z.number().int().min(0).default(1000),
  extensions: z.array(z.string()).default(['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.ppm', '.pgm']),
});

const Camera = z.object({
  id,
  station: id,
  /** rtsp://..., /dev/videoN, or an ffmpeg lavfi graph such as "testsrc=size=256x256:rate=5". */
  url: z.string().min(1),
  input: z.enum(['rtsp', 'v4l2', 'lavfi']),
  width: z.number().int().positive().max(8192),
  height: z.number().int().positive().max(8192),
  /** continuous: inspect a frame every intervalMs; trigger: only keep the latest frame for OPC UA triggers. */
  mode: z.enum(['continuous', 'trigger']).default('trigger'),
  intervalMs: z.number().int().min(10).default(1000),
  ffmpegPath: z.string().default('ffmpeg'),
  restartMs: z.number().int().min(100).default(2000),
});

const Tls = z.object({
  ca: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
  rejectUnauthorized: z.boolean().default(true),
});

export const AgentConfigSchema = z.object({
  site: id,
  line: id,
  deviceId: z.string().min(1).max(128).default(hostname()),
  dataDir: z.string().min(1),
  log: z
    .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
  model: z.object({
    kind: z.enum(['diad', 'standin']).default('diad'),
    bundle: z.string().min(1).optional(),
    shadowBundle: z.string().min(1).optional(),
    providers: z.array(z.enum(['tensorrt', 'cuda', 'webgpu', 'cpu'])).default(['cpu']),
    threads: z.number().int().positive().optional(),
    seed: z.number().int().nonnegative().default(0),
  }),
  thresholds: z.object({ image: z.number(), pixel: z.number() }).optional(),
  stations: z.array(Station).min(1),
  sources: z
    .object({
      hotFolders: z.array(HotFolder).default([]),
      cameras: z.array(Camera).default([]),
      /** POST /api/v1/frames on the http server. */
      http: z.boolean().default(true),
    })
    .prefault({}),
  outbox: z
    .object({
      capacityMb: z.number().positive().default(256),
      synchronous: z.enum(['full', 'normal']).default('full'),
      inflight: z.number().int().min(1).max(1000).default(64),
    })
    .prefault({}),
  images: z
    .object({
      save: z.enum(['none', 'nok', 'all']).default('nok'),
      /** With save: nok, also keep (and upload) this share of OK images: normal images for training sets. */
      okSampleRate: z.number().min(0).max(1).default(0),
      retentionDays: z.number().positive().default(7),
      /** Upload saved images/heatmaps to the control plane (when controlPlane is set). */
      upload: z.boolean().default(true),
      sweepMs: z.number().int().positive().default(3_600_000),
    })
    .prefault({}),
  mqtt: z
    .object({
      enabled: z.boolean().default(true),
      url: z
        .string()
        .regex(/^(mqtts?|wss?|tcp|tls):\/\//, 'expected an mqtt://, mqtts://, ws:// or wss:// URL')
        .default('mqtt://127.0.0.1:1883'),
      embeddedBroker: z
        .object({
          enabled: z.boolean().default(false),
          host: z.string().default('127.0.0.1'),
          port: port.default(1883),
          /**
           * Require this login on the embedded broker (the agent uses mqtt.username/password). Required when the
           * broker listens beyond loopback. Give `passwordHash` (scrypt, `diad-agent hash-password`) rather than
           * `password` to keep no plain password on disk.
           */
          username: z.string().min(1).optional(),
          password: z.string().min(1).optional(),
          passwordHash: z
            .string()
            .refine(isPasswordHash, 'expected a scrypt hash from diad-agent hash-password')
            .optional(),
        })
        .prefault({}),
      clientId: z.string().min(1).optional(),
      username: z.string().optional(),
      password: z.string().optional(),
      tls: Tls.optional(),
      keepaliveS: z.number().int().min(1).default(30),
      /**
       * MQTT protocol level for result publishing: 5 (default) sees PUBACK refusals such as 0x10 "no matching
       * subscribers" and keeps those results in the outbox; 4 (MQTT 3.1.1) for brokers without MQTT 5. The
       * embedded broker (aedes) speaks 3.1.1 only, so with embeddedBroker.enabled the agent always uses 4.
       */
      protocolVersion: z.union([z.literal(5), z.literal(4)]).default(5),
      backoff,
      sparkplug: z
        .object({
          enabled: z.boolean().default(false),
          groupId: id.default('diad'),
          edgeNodeId: id.optional(),
        })
        .prefault({}),
      /**
       * Results straight into NATS JetStream (publish acknowledged once stored) instead of over MQTT; status stays
       * on MQTT. For a NATS site broker, whose MQTT listener acknowledges QoS 1 before the stream stores it.
       */
      jetstream: z
        .object({
          enabled: z.boolean().default(false),
          servers: z.array(z.string().regex(/^(nats|tls):\/\//, 'expected a nats:// URL')).default([]),
          user: z.string().optional(),
          password: z.string().optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  opcua: z
    .object({
      enabled: z.boolean().default(true),
      port: port.default(4840),
      /** Allowed message security modes; "None" only when listed here. */
      securityModes: z
        .array(z.enum(['None', 'Sign', 'SignAndEncrypt']))
        .min(1)
        .default(['Sign', 'SignAndEncrypt']),
      securityPolicies: z
        .array(z.enum(['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss']))
        .min(1)
        .default(['Basic256Sha256']),
      allowAnonymous: z.boolean().default(false),
      /** OPC UA users: `password`, or better `passwordHash` (scrypt; `diad-agent hash-password`). */
      users: z
        .array(
          z
            .object({
              username: z.string().min(1),
              password: z.string().min(1).optional(),
              passwordHash: z
                .string()
                .refine(isPasswordHash, 'expected a scrypt hash from diad-agent hash-password')
                .optional(),
            })
            .refine((u) => !!u.password !== !!u.passwordHash, 'give password or passwordHash (one of them)'),
        )
        .default([]),
      /** Certificate store: own/, trusted/, rejected/, issuers/ (created on first start). */
      pkiDir: z.string().optional(),
      /** Trust client certificates that are not in trusted/ yet (commissioning only). */
      autoAcceptCertificates: z.boolean().default(false),
      resultBufferSize: z.number().int().min(1).max(1000).default(16),
      /** OPC 40100 Machine Vision: a VisionSystemType instance per station beside the DiAD nodes (docs/plc.md). */
      machineVision: z.boolean().default(true),
      samplingIntervalMs: z.number().int().min(0).default(100),
    })
    .prefault({}),
  /** PLC interfaces besides OPC UA (docs/plc.md). */
  plc: z
    .object({
      modbus: z
        .object({
          enabled: z.boolean().default(false),
          host: z.string().default('0.0.0.0'),
          port: port.default(502),
          /** Client addresses or CIDR ranges allowed to connect; everyone else is disconnected. */
          allowedClients: z.array(z.string().min(1)).min(1).default(['127.0.0.1']),
        })
        .prefault({}),
      s7: z
        .object({
          enabled: z.boolean().default(false),
          host: z.string().default('127.0.0.1'),
          port: port.default(102),
          rack: z.number().int().min(0).max(7).default(0),
          slot: z.number().int().min(0).max(31).default(1),
          timeoutMs: z.number().int().min(100).default(5000),
          /** One data block per station; results go into a ring of `slots` records (docs/plc.md). */
          stations: z
            .array(
              z.object({
                station: id,
                db: z.number().int().min(1).max(65535),
                slots: z.number().int().min(1).max(64).default(8),
              }),
            )
            .default([]),
          backoff,
        })
        .prefault({}),
    })
    .prefault({}),
  http: z
    .object({
      /**
       * When set, POST /api/v1/frames requires `Authorization: Bearer <frameToken>`. Required when `host` is not a
       * loopback address: without it the API listens on loopback only.
       */
      frameToken: z.string().min(16).optional(),
      host: z.string().default('127.0.0.1'),
      port: port.default(8080),
      maxBodyMb: z.number().positive().default(32),
    })
    .prefault({}),
  controlPlane: z
    .object({
      url: z.string().url(),
      /** One-time enrolment token (or enrolTokenFile); only used when no credential is stored yet. */
      enrolToken: z.string().min(16).optional(),
      enrolTokenFile: z.string().optional(),
      heartbeatMs: z.number().int().min(100).default(15_000),
      /**
       * How long a bundle download may keep failing transiently (no answer, 5xx, 408, 429), retried every cycle,
       * before the activation is reported failed.
       */
      downloadGiveUpMs: z.number().int().min(0).default(600_000),
      /** ed25519 public key (PEM file). When set, bundles must carry a valid signature. */
      signingPublicKeyFile: z.string().optional(),
      backoff,
    })
    .optional(),
});

export type AgentConfig = z.infer<typeof AgentConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Secrets that may come from the environment instead of the YAML file (the environment wins), so the file can be
 * committed or baked into an image without them. Each maps to the YAML key it replaces.
 */
export const ENV_OVERRIDES = {
  DIAD_MQTT_USERNAME: 'mqtt.username',
  DIAD_MQTT_PASSWORD: 'mqtt.password',
  DIAD_EMBEDDED_BROKER_PASSWORD: 'mqtt.embeddedBroker.password',
  /** JSON array of {username, password}, or comma-separated user:password pairs. */
  DIAD_OPCUA_USERS: 'opcua.users',
  DIAD_ENROL_TOKEN: 'controlPlane.enrolToken',
  DIAD_FRAME_TOKEN: 'http.frameToken',
} as const;

function parseOpcuaUsers(raw: string): unknown {
  if (raw.trim().startsWith('[')) {
    try {
      return JSON.parse(raw);
    } catch (e) {
      throw new ConfigError(`DIAD_OPCUA_USERS: not valid JSON: ${(e as Error).message}`);
    }
  }
  return raw.split(',').map((pair) => {
    const i = pair.indexOf(':');
    if (i <= 0) throw new ConfigError('DIAD_OPCUA_USERS: expected user:password pairs separated by commas');
    return { username: pair.slice(0, i).trim(), password: pair.slice(i + 1) };
  });
}

/**
 * Returns a copy of the parsed YAML document with the ENV_OVERRIDES that are set (non-empty) applied, and which
 * keys they replaced (for error messages).
 */
export function applyEnvOverrides(
  doc: unknown,
  env: NodeJS.ProcessEnv = process.env,
): { doc: unknown; origins: Record<string, string> } {
  const origins: Record<string, string> = {};
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { doc, origins };
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const path = key.split('.');
    if (path[0] === 'controlPlane' && out.controlPlane === undefined) {
      throw new ConfigError(`${name} is set but the configuration has no controlPlane section`);
    }
    let node = out;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (next === undefined || next === null) node[part] = {};
      else if (typeof next !== 'object' || Array.isArray(next)) {
        throw new ConfigError(`${path.slice(0, path.indexOf(part) + 1).join('.')}: expected an object`);
      }
      node = node[part] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = name === 'DIAD_OPCUA_USERS' ? parseOpcuaUsers(raw) : raw;
    origins[key] = name;
  }
  return { doc: out, origins };
}

/** Validates a parsed config object; the error names the key that failed (e.g. "mqtt.url"). */
export function parseConfig(
  input: unknown,
  source = 'config',
  origins: Record<string, string> = {},
): AgentConfig {
  const r = AgentConfigSchema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const key = i.path.join('.') || '(root)';
      const from = Object.entries(origins).find(([k]) => key === k || key.startsWith(`${k}.`));
      return `${key}${from ? ` (from ${from[1]})` : ''}: ${i.message}`;
    });
    throw new ConfigError(`${source}: ${lines.join('; ')}`);
  }
  const c = r.data;
  const stations = new Set(c.stations.map((s) => s.id));
  if (stations.size !== c.stations.length)
    throw new ConfigError(`${source}: stations: station ids must be unique`);
  const check = (key: string, station: string) => {
    if (!stations.has(station)) throw new ConfigError(`${source}: ${key}: unknown station "${station}"`);
  };
  for (const [i, h] of c.sources.hotFolders.entries()) check(`sources.hotFolders.${i}.station`, h.station);
  for (const [i, cam] of c.sources.cameras.entries()) check(`sources.cameras.${i}.station`, cam.station);
  for (const [i, s7] of c.plc.s7.stations.entries()) check(`plc.s7.stations.${i}.station`, s7.station);
  if (c.plc.s7.enabled && c.plc.s7.stations.length === 0)
    throw new ConfigError(`${source}: plc.s7.stations: name at least one station and its data block`);
  for (const [i, a] of c.plc.modbus.allowedClients.entries()) {
    const [addr, bits] = a.split('/');
    const family = isIP(addr);
    const max = family === 6 ? 128 : 32;
    if (!family || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max)))
      throw new ConfigError(
        `${source}: plc.modbus.allowedClients.${i}: not an IP address or CIDR range: "${a}"`,
      );
  }
  const cameras = new Set(c.sources.cameras.map((cam) => cam.id));
  c.stations.forEach((s, i) => {
    if (s.triggerCamera && !cameras.has(s.triggerCamera)) {
      throw new ConfigError(`${source}: stations.${i}.triggerCamera: unknown camera "${s.triggerCamera}"`);
    }
  });
  if (
    c.opcua.securityModes.includes('None') &&
    c.opcua.securityModes.length === 1 &&
    !c.opcua.allowAnonymous &&
    c.opcua.users.length === 0
  ) {
    throw new ConfigError(
      `${source}: opcua.users: with securityModes [None] and allowAnonymous false nobody can log in`,
    );
  }
  if (c.controlPlane && !c.controlPlane.enrolToken && !c.controlPlane.enrolTokenFile) {
    // Allowed: the credential may already be stored in dataDir from an earlier enrolment.
  }
  const eb = c.mqtt.embeddedBroker;
  if (!!eb.username !== !!(eb.password || eb.passwordHash)) {
    throw new ConfigError(`${source}: mqtt.embeddedBroker.password: username and password go together`);
  }
  if (eb.enabled && !isLoopback(eb.host) && !eb.username) {
    throw new ConfigError(
      `${source}: mqtt.embeddedBroker.username: the embedded broker listens on ${eb.host}, beyond loopback: give it a login (username and passwordHash)`,
    );
  }
  if (!isLoopback(c.http.host) && !c.http.frameToken) {
    throw new ConfigError(
      `${source}: http.frameToken: the HTTP API listens on ${c.http.host}, beyond loopback: set a frameToken (or listen on 127.0.0.1)`,
    );
  }
  if (!c.model.bundle && !c.controlPlane) {
    throw new ConfigError(`${source}: model.bundle: required when controlPlane is not configured`);
  }
  c.dataDir = resolve(c.dataDir);
  c.opcua.pkiDir = resolve(c.opcua.pkiDir ?? join(c.dataDir, 'pki'));
  return c;
}

/** Reads, overrides from the environment (ENV_OVERRIDES) and validates the agent's YAML configuration. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid YAML: ${(e as Error).message}`);
  }
  const { doc: merged, origins } = applyEnvOverrides(doc, env);
  return parseConfig(merged, path, origins);
}

/** True for addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
