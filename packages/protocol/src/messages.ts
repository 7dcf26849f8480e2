import { z } from 'zod';
import { modelName } from './manifest.js';

/** MQTT payloads and agent <-> control-plane API bodies. Versioned by the `schema` literal. */

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected letters, digits, "_", "." or "-"');
const uuid = z.string().uuid();
const isoTime = z.string().datetime({ offset: true });

export const ModelRef = z.object({
  name: modelName,
  version: z.string().min(1),
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
  deviceId: z.string().min(1),
  partId: z.string().min(1).max(128),
  category: z.string().max(64).optional(),
  capturedAt: isoTime,
  inspectedAt: isoTime,
  state: ResultState,
  verdict: z.enum(['OK', 'NOK']).nullable(),
  score: z.number().nullable(),
  normalizedScore: z.number().min(0).max(1).nullable(),
  defectAreaPx: z.number().int().nonnegative().nullable().default(null),
  thresholds: Thresholds.nullable(),
  model: ModelRef.nullable(),
  provider: z.string().nullable(),
  timingsMs: z.record(z.string(), z.number()).default({}),
  error: z.object({ code: z.string(), message: z.string() }).nullable().default(null),
  imageRef: z.string().nullable().default(null),
  heatmapRef: z.string().nullable().default(null),
  shadow: z
    .object({ model: ModelRef, score: z.number(), verdict: z.enum(['OK', 'NOK']) })
    .nullable()
    .default(null),
});
export type InspectionResult = z.infer<typeof InspectionResult>;

export const AgentStatus = z.object({
  schema: z.literal('diad.status/v1'),
  deviceId: z.string().min(1),
  state: z.enum(['online', 'offline', 'degraded']),
  at: isoTime,
  model: ModelRef.nullable(),
  provider: z.string().nullable(),
  queueDepth: z.number().int().nonnegative(),
  outboxDepth: z.number().int().nonnegative(),
});
export type AgentStatus = z.infer<typeof AgentStatus>;

export const EnrolRequest = z.object({
  token: z.string().min(16),
  hostname: z.string().min(1).max(255),
  agentVersion: z.string().min(1),
  providers: z.array(z.string()).default([]),
});
export type EnrolRequest = z.infer<typeof EnrolRequest>;

export const EnrolResponse = z.object({
  deviceId: z.string().min(1),
  /** Secret shown once; the agent sends it as `Authorization: Bearer <credential>`. */
  credential: z.string().min(32),
  site: id,
  line: id,
  station: id,
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
        error: z.string().nullable().default(null),
        rolloutId: z.string().nullable().default(null),
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
