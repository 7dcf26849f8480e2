/** Response shapes of the control plane's public API, as the dashboard reads them. */

export type Role = 'admin' | 'engineer' | 'supervisor';
export type Verdict = 'OK' | 'NOK';

export interface LoginResponse {
  token: string;
  expiresAt: string;
  role: Role;
}

export interface Me {
  kind: string;
  id: string;
  name: string;
  role: Role | 'device';
}

export interface ResultView {
  resultId: string;
  site: string;
  line: string;
  station: string;
  camera: string;
  deviceId: string;
  partId: string;
  category: string | null;
  capturedAt: string | null;
  inspectedAt: string;
  state: 'ok' | 'nok' | 'error' | 'overrun';
  verdict: Verdict | null;
  score: number | null;
  normalizedScore: number | null;
  defectAreaPx: number | null;
  thresholds:
    | { version: number | null; image: number | null }
    | { version: number; image: number; pixel?: number }
    | null;
  model: { name: string; version: string; sha256?: string } | null;
  provider: string | null;
  timingsMs: Record<string, number>;
  error: { code: string; message: string } | null;
  imageRef: string | null;
  heatmapRef: string | null;
  shadow: { model: unknown; score: number | null; verdict: string | null } | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface AggregatePoint {
  bucket: string | null;
  modelName: string | null;
  modelVersion: string | null;
  total: number;
  ok: number;
  nok: number;
  errors: number;
  nokRate: number | null;
  meanScore: number | null;
}

export interface Aggregates {
  bucket: 'hour' | 'day' | 'shift' | 'none';
  timeZone: string;
  shift?: { hours: number; origin: string };
  series: AggregatePoint[];
}

export interface Line {
  id: string;
  siteId: string;
  code: string;
  name: string;
}

export interface ModelVersion {
  id: string;
  name: string;
  version: string;
  status: string;
}

export interface Device {
  id: string;
  name: string;
  hostname: string | null;
  agentVersion: string | null;
  providers: string[] | null;
  disabled: boolean;
  lastSeenAt: string | null;
  health: string | null;
  provider: string | null;
  /** The agent's start-up check of execution providers (null from agents that predate it). */
  accelerators: {
    checks: Array<{ provider: string; status: 'ok' | 'unavailable' | 'failed'; reason?: string }>;
    gpu: string | null;
    variant: string | null;
  } | null;
  /** The station's PLC links as last reported (null from agents that predate the report). */
  plcLinks: Array<{
    interface: 'opcua' | 'modbus' | 's7';
    state: 'up' | 'idle' | 'down';
    clients?: number;
    pending?: number;
    detail: string | null;
  }> | null;
  queueDepth: number | null;
  outboxDepth: number | null;
  /** Results the control plane refused for good, set aside on the device (null from agents that predate it). */
  setAside: { count: number; lastReason: string | null; lastAt: string | null } | null;
  activeModel: { name: string; version: string | null } | null;
  site: string;
  line: string;
  station: string;
  lineId: string;
  online: boolean;
  status: string;
}

export type RolloutStatus = 'running' | 'paused' | 'completed' | 'aborted' | 'rolled_back';

export interface Stage {
  percent?: number;
  count?: number;
}

export interface Rollout {
  id: string;
  model: { name: string; version: string };
  mode: 'normal' | 'shadow';
  status: RolloutStatus;
  stages: Stage[];
  currentStage: number;
  stageStartedAt: string;
  reason: string | null;
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
  counts: Record<string, number>;
}

export interface GroupStats {
  count: number;
  nok: number;
  meanScore: number | null;
  stdScore: number | null;
}

export interface RolloutDetail extends Rollout {
  devices: Array<{
    deviceId: string;
    stage: number;
    state: string;
    error: string | null;
    activatedAt: string | null;
  }>;
  metrics: { candidate: GroupStats; baseline: GroupStats } | null;
  next: { action: string; reason?: string; why?: string } | null;
}

export interface ThresholdSet {
  id: number;
  lineId: string;
  version: number;
  effectiveFrom: string;
  image: number | null;
  pixel: number | null;
  note: string | null;
  createdBy: string;
  createdAt: string;
}

export interface AuditEntry {
  id: number | string;
  at: string;
  actorType: string;
  actorId: string | null;
  actorName: string | null;
  role: string | null;
  action: string;
  entityType: string;
  entityId: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export type LabelKind = 'confirmed_defect' | 'false_alarm' | 'missed_defect' | 'confirmed_ok';

export interface ResultLabel {
  id: string;
  resultId: string;
  version: number;
  label: LabelKind;
  maskRef: string | null;
  note: string | null;
  createdBy: string;
  createdAt: string;
}

export interface ReviewItem {
  resultId: string;
  station: string;
  partId: string;
  inspectedAt: string;
  verdict: 'OK' | 'NOK';
  score: number | null;
  normalizedScore: number | null;
  shadowVerdict: 'OK' | 'NOK' | null;
  reason: 'shadow-disagrees' | 'borderline';
}

export interface TrainingJob {
  id: string;
  lineId: string;
  datasetId: string;
  config: { modelName: string; config: string; maxMinutes: number };
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  progress: { stage?: string; step?: number; of?: number; loss?: number; etaMinutes?: number } | null;
  attempts: number;
  worker: string | null;
  modelVersionId: string | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}
