import type { InspectionResult } from '@diad/protocol';

/** Column names and SQL types of `results` as written by the batch insert (order matters for the SQL). */
export const RESULT_COLUMNS: Array<[string, string]> = [
  ['result_id', 'uuid'],
  ['site', 'text'],
  ['line', 'text'],
  ['station', 'text'],
  ['camera', 'text'],
  ['device_id', 'text'],
  ['part_id', 'text'],
  ['category', 'text'],
  ['captured_at', 'timestamptz'],
  ['inspected_at', 'timestamptz'],
  ['state', 'text'],
  ['verdict', 'text'],
  ['score', 'double precision'],
  ['normalized_score', 'double precision'],
  ['defect_area_px', 'integer'],
  ['threshold_version', 'integer'],
  ['threshold_image', 'double precision'],
  ['model_name', 'text'],
  ['model_version', 'text'],
  ['model_sha256', 'text'],
  ['provider', 'text'],
  ['timings_ms', 'jsonb'],
  ['error_code', 'text'],
  ['error_message', 'text'],
  ['image_ref', 'text'],
  ['heatmap_ref', 'text'],
  ['shadow_model_version', 'text'],
  ['shadow_score', 'double precision'],
  ['shadow_verdict', 'text'],
];

const cols = RESULT_COLUMNS.map(([c]) => `"${c}"`).join(', ');
const defs = RESULT_COLUMNS.map(([c, t]) => `"${c}" ${t}`).join(', ');

/**
 * One statement for a whole batch: JSON rows expanded by jsonb_to_recordset, duplicates (same result id, e.g. an
 * agent re-sending after a lost ack) skipped. Several times faster than row-by-row inserts.
 *
 * `results` is partitioned by capture time, so its unique key is (result_id, captured_at): ON CONFLICT on it
 * settles a resend (same id, same capture time) even between concurrent writers, and NOT EXISTS skips an id
 * already stored under another capture time (one index probe per partition).
 */
export const INSERT_RESULTS_SQL = `INSERT INTO "results" (${cols})
SELECT ${cols} FROM jsonb_to_recordset($1::jsonb) AS r(${defs})
WHERE NOT EXISTS (SELECT 1 FROM "results" x WHERE x."result_id" = r."result_id")
ON CONFLICT ("result_id", "captured_at") DO NOTHING
RETURNING "result_id"`;

export function toRow(r: InspectionResult): Record<string, unknown> {
  return {
    result_id: r.resultId,
    site: r.site,
    line: r.line,
    station: r.station,
    camera: r.camera,
    device_id: r.deviceId,
    part_id: r.partId,
    category: r.category ?? null,
    captured_at: r.capturedAt,
    inspected_at: r.inspectedAt,
    state: r.state,
    verdict: r.verdict,
    score: r.score,
    normalized_score: r.normalizedScore,
    defect_area_px: r.defectAreaPx,
    threshold_version: r.thresholds?.version ?? null,
    threshold_image: r.thresholds?.image ?? null,
    model_name: r.model?.name ?? null,
    model_version: r.model?.version ?? null,
    model_sha256: r.model?.sha256 ?? null,
    provider: r.provider,
    timings_ms: r.timingsMs,
    error_code: r.error?.code ?? null,
    error_message: r.error?.message ?? null,
    image_ref: r.imageRef,
    heatmap_ref: r.heatmapRef,
    shadow_model_version: r.shadow ? `${r.shadow.model.name}@${r.shadow.model.version}` : null,
    shadow_score: r.shadow?.score ?? null,
    shadow_verdict: r.shadow?.verdict ?? null,
  };
}

/** A stored row as the API returns it. */
export function presentRow(x: Record<string, unknown>) {
  const iso = (v: unknown) =>
    v instanceof Date ? v.toISOString() : v === null ? null : new Date(String(v)).toISOString();
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    resultId: x.result_id as string,
    site: x.site as string,
    line: x.line as string,
    station: x.station as string,
    camera: x.camera as string,
    deviceId: x.device_id as string,
    partId: x.part_id as string,
    category: (x.category as string | null) ?? null,
    capturedAt: iso(x.captured_at),
    inspectedAt: iso(x.inspected_at),
    state: x.state as string,
    verdict: (x.verdict as string | null) ?? null,
    score: num(x.score),
    normalizedScore: num(x.normalized_score),
    defectAreaPx: num(x.defect_area_px),
    thresholds:
      x.threshold_version === null
        ? null
        : { version: num(x.threshold_version), image: num(x.threshold_image) },
    model: x.model_name ? { name: x.model_name, version: x.model_version, sha256: x.model_sha256 } : null,
    provider: (x.provider as string | null) ?? null,
    timingsMs: x.timings_ms ?? {},
    error: x.error_code ? { code: x.error_code, message: x.error_message } : null,
    imageRef: (x.image_ref as string | null) ?? null,
    heatmapRef: (x.heatmap_ref as string | null) ?? null,
    shadow: x.shadow_model_version
      ? { model: x.shadow_model_version, score: num(x.shadow_score), verdict: x.shadow_verdict }
      : null,
    receivedAt: iso(x.received_at),
  };
}
export type ResultView = ReturnType<typeof presentRow>;

const INT4_MAX = 2 ** 31 - 1;

/** Values the protocol allows but the columns cannot hold; null when the row fits. */
export function outOfRange(r: InspectionResult): string | null {
  if (r.defectAreaPx !== null && r.defectAreaPx > INT4_MAX)
    return `defectAreaPx: expected at most ${INT4_MAX}`;
  if (r.thresholds && r.thresholds.version > INT4_MAX)
    return `thresholds.version: expected at most ${INT4_MAX}`;
  return null;
}
