import { z } from 'zod';
import { zodDto } from '../common/dto.js';
import { isoTime, page } from '../common/schemas.js';
import { AggregateQuery, ExportQuery, ResultPageQuery } from './results-query.js';

export class ResultPageQueryDto extends zodDto(ResultPageQuery) {}
export class AggregateQueryDto extends zodDto(AggregateQuery) {}
export class ExportQueryDto extends zodDto(ExportQuery) {}
export class StreamQueryDto extends zodDto(
  z.object({
    site: z.string().optional(),
    line: z.string().optional(),
    station: z.string().optional(),
    verdict: z.enum(['OK', 'NOK']).optional(),
    /** For EventSource, which cannot send headers. */
    access_token: z.string().optional(),
  }),
) {}

/** A stored inspection result as the API returns it (and as the SSE stream sends it). */
export const ResultView = z.object({
  resultId: z.string(),
  site: z.string(),
  line: z.string(),
  station: z.string(),
  camera: z.string(),
  deviceId: z.string(),
  partId: z.string(),
  category: z.string().nullable(),
  capturedAt: isoTime,
  inspectedAt: isoTime,
  state: z.enum(['ok', 'nok', 'error', 'overrun']),
  verdict: z.enum(['OK', 'NOK']).nullable(),
  score: z.number().nullable(),
  normalizedScore: z.number().nullable(),
  defectAreaPx: z.number().int().nullable(),
  /** The threshold set the agent applied (version 0: the bundle's own calibration). */
  thresholds: z.object({ version: z.number().int().nullable(), image: z.number().nullable() }).nullable(),
  model: z
    .object({ name: z.string(), version: z.string().nullable(), sha256: z.string().nullable() })
    .nullable(),
  provider: z.string().nullable(),
  timingsMs: z.record(z.string(), z.number()),
  error: z.object({ code: z.string(), message: z.string().nullable() }).nullable(),
  imageRef: z.string().nullable(),
  heatmapRef: z.string().nullable(),
  /** The shadow model's opinion ("name@version"), when one ran beside the active model. */
  shadow: z
    .object({ model: z.string(), score: z.number().nullable(), verdict: z.enum(['OK', 'NOK']).nullable() })
    .nullable(),
  receivedAt: isoTime,
});

export class ResultDto extends zodDto(ResultView) {}
export class ResultPageDto extends zodDto(page(ResultView)) {}

export class AggregatesDto extends zodDto(
  z.object({
    bucket: z.enum(['hour', 'day', 'shift', 'none']),
    /** The zone buckets are cut in. */
    timeZone: z.string(),
    /** Only for bucket=shift: shift length and the local time the first shift starts. */
    shift: z.object({ hours: z.number().int(), origin: z.string() }).optional(),
    series: z.array(
      z.object({
        /** Start of the bucket; null for bucket=none. */
        bucket: isoTime.nullable(),
        modelName: z.string().nullable(),
        modelVersion: z.string().nullable(),
        total: z.number().int(),
        ok: z.number().int(),
        nok: z.number().int(),
        errors: z.number().int(),
        /** NOK / (OK + NOK); null when none was judged. */
        nokRate: z.number().nullable(),
        meanScore: z.number().nullable(),
      }),
    ),
  }),
) {}
