import { z } from 'zod';
import { DevicePublicKey, MessageAuth } from './device-auth.js';
import { modelName } from './manifest.js';

/** MQTT payloads and agent <-> control-plane API bodies. Versioned by the `schema` literal. */

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected letters, digits, "_", "." or "-"');
const uuid = z.string().uuid();

/** True when `s` holds a C0/C1 control character (NUL included) or a UTF-16 surrogate without its pair. */
export function hasUnsafeText(s: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(s)) return true;
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/**
 * A bounded string without control characters or unpaired surrogates (a NUL in one field once made PostgreSQL
 * refuse a whole batch). `multiline` allows tab, line feed and carriage return (error messages).
 */
export function safeText(max: number, opts: { multiline?: boolean } = {}) {
  return z
    .string()
    .max(max)
    .refine((s) => !hasUnsafeText(s) && (opts.multiline || !/[\t\n\r]/.test(s)), {
      message: 'control characters and unpaired surrogates are not allowed',
    });
}

/** ISO 8601 with offset, between the years 2000 and 2100 (year 9999 once reached the database). */
const isoTime = z
  .string()
  .datetime({ offset: true })
  .refine(
    (s) => {
      const t = Date.parse(s);
      return t >= Date.UTC(2000, 0, 1) && t < Date.UTC(2100, 0, 1);
    },
    { message: 'expected a time between 2000 and 2100' },
  );

export const ModelRef = z.object({
  name: modelName,
  version: safeText(64).min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ModelRef = z.infer<typeof ModelRef>;

export const Thresholds = z.object({
  /** Version of the threshold set in the control plane; 0 = the bundle's own calibration. */
  version: z.number().int().nonnegative(),
  image: z.number(),
  pixel: z.number(),
});
export type Thresholds = z.infer<typeof Thresholds>;

export const ResultState = z.enum(['ok', 'nok', 'error', 'overrun']);
export type ResultState = z.infer<typeof ResultState>;

export const InspectionResult = z.object({
  schema: z.literal('diad.result/v1'),
  resultId: uuid,
  site: id,
  line: id,
  station: id,
  camera: id,
  deviceId: safeText(64).min(1),
  partId: safeText(128).min(1),
  category: safeText(64).optional(),
  capturedAt: isoTime,
  inspectedAt: isoTime,
  state: ResultState,
  verdict: z.enum(['OK', 'NOK']).nullable(),
  score: z.number().nullable(),
  normalizedScore: z.number().min(0).max(1).nullable(),
  defectAreaPx: z.number().int().nonnegative().nullable().default(null),
  thresholds: Thresholds.nullable(),
  model: ModelRef.nullable(),
  provider: safeText(64).nullable(),
  timingsMs: z
    .record(safeText(64), z.number())
    .refine((r) => Object.keys(r).length <= 64, { message: 'at most 64 timings' })
    .default({}),
  error: z
    .object({ code: safeText(64), message: safeText(4000, { multiline: true }) })
    .nullable()
    .default(null),
  imageRef: safeText(1024).nullable().default(null),
  heatmapRef: safeText(1024).nullable().default(null),
  shadow: z
    .object({ model: ModelRef, score: z.number(), verdict: z.enum(['OK', 'NOK']) })
    .nullable()
    .default(null),
  /** The device's signature (see device-auth.ts); required by control planes that verify devices. */
  auth: MessageAuth.optional(),
});
export type InspectionResult = z.infer<typeof InspectionResult>;

export const AgentStatus = z.object({
  schema: z.literal('diad.status/v1'),
  deviceId: safeText(64).min(1),
  state: z.enum(['online', 'offline', 'degraded']),
  at: isoTime,
  model: ModelRef.nullable(),
  provider: safeText(64).nullable(),
  queueDepth: z.number().int().nonnegative(),
  outboxDepth: z.number().int().nonnegative(),
  auth: MessageAuth.optional(),
});
export type AgentStatus = z.infer<typeof AgentStatus>;

export const EnrolRequest = z.object({
  token: safeText(256).min(16),
  hostname: safeText(255).min(1),
  agentVersion: safeText(64).min(1),
  providers: z.array(safeText(64)).max(16).default([]),
  /** The device's ed25519 public key (generated on the device); its bus messages are verified with it. */
  publicKey: DevicePublicKey.optional(),
});
export type EnrolRequest = z.infer<typeof EnrolRequest>;

export const EnrolResponse = z.object({
  deviceId: z.string().min(1),
  /** Secret shown once; the agent sends it as `Authorization: Bearer <credential>`. */
  credential: z.string().min(32),
  site: id,
  line: id,
  station: id,
  /**
   * The device's own broker login, when the control plane provisions per-device broker identities
   * (`BROKER_IDENTITIES`): the agent connects to MQTT/NATS with it and may publish only its station's topics.
   */
  broker: z
    .object({ username: z.string().min(1).max(128), password: z.string().min(16).max(256) })
    .optional(),
});
export type EnrolResponse = z.infer<typeof EnrolResponse>;

export const ModelActivation = z.enum(['pending', 'downloading', 'active', 'failed', 'shadow']);
export type ModelActivation = z.infer<typeof ModelActivation>;

export const Heartbeat = z.object({
  schema: z.literal('diad.heartbeat/v1'),
  at: isoTime,
  health: z.enum(['ok', 'degraded', 'failing']),
  provider: z.string().nullable(),
  queueDepth: z.number().int().nonnegative(),
  outboxDepth: z.number().int().nonnegative(),
  activeModel: ModelRef.nullable(),
  /** The outcome of applying the last desired state. */
  modelReports: z
    .array(
      z.object({
        model: ModelRef,
        state: ModelActivation,
        error: safeText(4000, { multiline: true }).nullable().default(null),
        rolloutId: safeText(64).nullable().default(null),
      }),
    )
    .default([]),
  /**
   * The agent's start-up check of execution providers (absent from agents that predate it): each provider's
   * status and, when it cannot be used, why; the GPU found; the bundle variant the active model runs.
   */
  accelerators: z
    .object({
      checks: z
        .array(
          z.object({
            provider: z.enum(['tensorrt', 'cuda', 'webgpu', 'cpu']),
            status: z.enum(['ok', 'unavailable', 'failed']),
            reason: z.string().max(500).optional(),
          }),
        )
        .max(8),
      gpu: z.string().max(200).nullable().default(null),
      variant: z.string().max(64).nullable().default(null),
    })
    .optional(),
  /**
   * Results the control plane refused for good, set aside in the agent's outbox (absent from agents that predate
   * the report): how many, and the newest one's reason and time.
   */
  setAside: z
    .object({
      count: z.number().int().nonnegative(),
      lastReason: safeText(1000, { multiline: true }).nullable(),
      lastAt: isoTime.nullable(),
    })
    .optional(),
  /**
   * The station's PLC links (absent from agents that predate them): per enabled interface, "up" (a PLC is
   * connected / the S7 PLC answers), "idle" (listening, no PLC connected) or "down" (S7 PLC unreachable).
   */
  plc: z
    .array(
      z.object({
        interface: z.enum(['opcua', 'modbus', 's7']),
        state: z.enum(['up', 'idle', 'down']),
        /** Connected clients (OPC UA sessions, Modbus connections). */
        clients: z.number().int().nonnegative().optional(),
        /** S7: results waiting to be written into the PLC. */
        pending: z.number().int().nonnegative().optional(),
        detail: z.string().max(200).nullable().default(null),
      }),
    )
    .max(8)
    .optional(),
});
export type PlcLink = NonNullable<z.infer<typeof Heartbeat>['plc']>[number];
export type Heartbeat = z.infer<typeof Heartbeat>;

export const BundleRef = ModelRef.extend({
  /** Path on the control plane, relative to its base URL, that streams the bundle .tar. */
  url: z.string().min(1),
  bytes: z.number().int().positive(),
  /** Optional base64 ed25519 signature over the tar's sha256 hex string. */
  signature: z.string().nullable().default(null),
});
export type BundleRef = z.infer<typeof BundleRef>;

export const DesiredState = z.object({
  schema: z.literal('diad.desired/v1'),
  deviceId: z.string().min(1),
  revision: z.number().int().nonnegative(),
  model: BundleRef.nullable(),
  shadowModel: BundleRef.nullable().default(null),
  rolloutId: z.string().nullable().default(null),
  thresholds: Thresholds.nullable(),
  /** Per-category overrides of the image threshold. */
  categoryThresholds: z.record(z.string(), z.number()).default({}),
});
export type DesiredState = z.infer<typeof DesiredState>;

export const ResultBatch = z.object({ results: z.array(InspectionResult).min(1).max(5000) });
export type ResultBatch = z.infer<typeof ResultBatch>;
