import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { z } from 'zod';
import { CONFIG } from '../common/tokens.js';
import type { ControlPlaneConfig } from '../config.js';
import { Database } from '../db/database.js';
import { presentRow, type ResultView } from './result-row.js';
import {
  type AggregateQuery,
  bucketExpr,
  decodeCursor,
  type ExportQuery,
  encodeCursor,
  filterWhere,
  type ResultPageQuery,
} from './results-query.js';

/** Defect history: filtered pages, aggregates and exports over the results table. */
@Injectable()
export class ResultsService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  async page(
    q: z.infer<typeof ResultPageQuery>,
  ): Promise<{ items: ResultView[]; nextCursor: string | null }> {
    const w = filterWhere(q);
    if (q.cursor) {
      let c: { inspectedAt: string; resultId: string };
      try {
        c = decodeCursor(q.cursor);
      } catch (e) {
        throw new BadRequestException((e as Error).message);
      }
      w.add('(inspected_at, result_id) < (?::timestamptz, ?::uuid)', c.inspectedAt, c.resultId);
    }
    const rows = await this.db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(
      `SELECT * FROM results ${w} ORDER BY inspected_at DESC, result_id DESC LIMIT ${q.limit + 1}`,
      ...w.params,
    );
    const more = rows.length > q.limit;
    const items = rows.slice(0, q.limit).map(presentRow);
    const last = items[items.length - 1];
    return {
      items,
      nextCursor: more && last ? encodeCursor(last.inspectedAt as string, last.resultId) : null,
    };
  }

  async get(id: string): Promise<ResultView> {
    const rows = await this.db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(
      'SELECT * FROM results WHERE result_id = $1::uuid',
      id,
    );
    if (!rows[0]) throw new NotFoundException(`result ${id} not found`);
    return presentRow(rows[0]);
  }

  async aggregate(q: z.infer<typeof AggregateQuery>) {
    const now = Date.now();
    const f = { ...q, from: q.from ?? new Date(now - 24 * 3600_000).toISOString() };
    const end = q.to ? Date.parse(q.to) : now;
    if (q.bucket !== 'none' && end - Date.parse(f.from) > 400 * 86400_000) {
      throw new BadRequestException('query.from: bucketed aggregates span at most 400 days (from to `to`)');
    }
    const w = filterWhere(f);
    let bucket = 'NULL::timestamptz';
    if (q.bucket !== 'none') {
      w.params.push(this.config.timeZone);
      const tz = `$${w.params.length}::text`;
      bucket = bucketExpr(q.bucket, tz, { hours: this.config.shiftHours, origin: this.config.shiftOrigin });
    }
    const model =
      q.groupBy === 'model'
        ? 'model_name, model_version'
        : 'NULL::text AS model_name, NULL::text AS model_version';
    const groupModel = q.groupBy === 'model' ? ', model_name, model_version' : '';
    const rows = await this.db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(
      `SELECT ${bucket} AS bucket, ${model},
              count(*)::int AS total,
              count(*) FILTER (WHERE verdict = 'OK')::int AS ok,
              count(*) FILTER (WHERE verdict = 'NOK')::int AS nok,
              count(*) FILTER (WHERE state IN ('error', 'overrun'))::int AS errors,
              avg(score) AS mean_score
         FROM results ${w}
        GROUP BY 1${groupModel}
        ORDER BY 1${groupModel}`,
      ...w.params,
    );
    return {
      bucket: q.bucket,
      timeZone: this.config.timeZone,
      shift:
        q.bucket === 'shift' ? { hours: this.config.shiftHours, origin: this.config.shiftOrigin } : undefined,
      series: rows.map((r) => {
        const total = Number(r.total);
        const nok = Number(r.nok);
        const judged = nok + Number(r.ok);
        return {
          bucket: r.bucket === null ? null : new Date(r.bucket as string).toISOString(),
          modelName: (r.model_name as string | null) ?? null,
          modelVersion: (r.model_version as string | null) ?? null,
          total,
          ok: Number(r.ok),
          nok,
          errors: Number(r.errors),
          nokRate: judged > 0 ? nok / judged : null,
          meanScore: r.mean_score === null ? null : Number(r.mean_score),
        };
      }),
    };
  }

  /** Rows for CSV, newest first, fetched in keyset pages so memory stays flat whatever the limit. */
  async *exportRows(q: z.infer<typeof ExportQuery>): AsyncGenerator<ResultView[]> {
    let cursor: string | undefined;
    let left = q.limit;
    while (left > 0) {
      const page = await this.page({ ...q, limit: Math.min(1000, left), cursor });
      if (page.items.length) yield page.items;
      left -= page.items.length;
      if (!page.nextCursor) return;
      cursor = page.nextCursor;
    }
  }
}

export const CSV_COLUMNS = [
  'resultId',
  'inspectedAt',
  'capturedAt',
  'site',
  'line',
  'station',
  'camera',
  'deviceId',
  'partId',
  'category',
  'state',
  'verdict',
  'score',
  'normalizedScore',
  'defectAreaPx',
  'thresholdVersion',
  'thresholdImage',
  'modelName',
  'modelVersion',
  'errorCode',
] as const;

export function csvLine(r: ResultView): string {
  const v: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    resultId: r.resultId,
    inspectedAt: r.inspectedAt,
    capturedAt: r.capturedAt,
    site: r.site,
    line: r.line,
    station: r.station,
    camera: r.camera,
    deviceId: r.deviceId,
    partId: r.partId,
    category: r.category,
    state: r.state,
    verdict: r.verdict,
    score: r.score,
    normalizedScore: r.normalizedScore,
    defectAreaPx: r.defectAreaPx,
    thresholdVersion: r.thresholds?.version,
    thresholdImage: r.thresholds?.image,
    modelName: r.model?.name,
    modelVersion: r.model?.version,
    errorCode: r.error?.code,
  };
  return `${CSV_COLUMNS.map((c) => csvCell(v[c])).join(',')}\r\n`;
}

/** RFC 4180 quoting; a leading = + - @ is prefixed with ' so spreadsheets do not run it as a formula. */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
