import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

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
          /** Require this login on the embedded broker (the agent uses mqtt.username/password). */
          username: z.string().min(1).optional(),
          password: z.string().min(1).optional(),
        })
        .prefault({}),
      clientId: z.string().min(1).optional(),
      username: z.string().optional(),
      password: z.string().optional(),
      tls: Tls.optional(),
      keepaliveS: z.number().int().min(1).default(30),
      backoff,
      sparkplug: z
        .object({
          enabled: z.boolean().default(false),
          groupId: id.default('diad'),
          edgeNodeId: id.optional(),
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
      users: z.array(z.object({ username: z.string().min(1), password: z.string().min(1) })).default([]),
      /** Certificate store: own/, trusted/, rejected/, issuers/ (created on first start). */
      pkiDir: z.string().optional(),
      /** Trust client certificates that are not in trusted/ yet (commissioning only). */
      autoAcceptCertificates: z.boolean().default(false),
      resultBufferSize: z.number().int().min(1).max(1000).default(16),
      samplingIntervalMs: z.number().int().min(0).default(100),
    })
    .prefault({}),
  http: z
    .object({
      /** When set, POST /api/v1/frames requires `Authorization: Bearer <frameToken>`. */
      frameToken: z.string().min(16).optional(),
      host: z.string().default('0.0.0.0'),
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

/** Validates a parsed config object; the error names the key that failed (e.g. "mqtt.url"). */
export function parseConfig(input: unknown, source = 'config'): AgentConfig {
  const r = AgentConfigSchema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
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
  if (!!eb.username !== !!eb.password) {
    throw new ConfigError(`${source}: mqtt.embeddedBroker.password: username and password go together`);
  }
  if (!c.model.bundle && !c.controlPlane) {
    throw new ConfigError(`${source}: model.bundle: required when controlPlane is not configured`);
  }
  c.dataDir = resolve(c.dataDir);
  c.opcua.pkiDir = resolve(c.opcua.pkiDir ?? join(c.dataDir, 'pki'));
  return c;
}

export function loadConfig(path: string): AgentConfig {
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
  return parseConfig(doc, path);
}
