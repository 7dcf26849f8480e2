import { z } from 'zod';

const code = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected letters, digits, "_", "." or "-"');
const time = z.string().datetime({ offset: true, message: 'expected an ISO 8601 time with offset' });

const filterFields = z.object({
  site: code.optional(),
  line: code.optional(),
  station: code.optional(),
  deviceId: z.string().min(1).max(64).optional(),
  partId: z.string().min(1).max(128).optional(),
  category: z.string().min(1).max(64).optional(),
  from: time.optional(),
  to: time.optional(),
  verdict: z.enum(['OK', 'NOK']).optional(),
  state: z.enum(['ok', 'nok', 'error', 'overrun']).optional(),
  modelName: z.string().min(1).max(64).optional(),
  modelVersion: z.string().min(1).max(64).optional(),
  minScore: z.coerce.number().finite().optional(),
  maxScore: z.coerce.number().finite().optional(),
});

// Each query is one flat object (not an intersection) so the OpenAPI document lists its parameters one by one.
function fromBeforeTo<T extends z.ZodType<{ from?: string; to?: string }>>(schema: T) {
  return schema.refine((f) => !f.from || !f.to || Date.parse(f.from) < Date.parse(f.to), {
    message: 'expected from < to',
    path: ['from'],
  });
}

export const ResultFilter = fromBeforeTo(filterFields);
export type ResultFilter = z.infer<typeof ResultFilter>;

export const ResultPageQuery = fromBeforeTo(
  filterFields.extend({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().max(200).optional(),
  }),
);

export const AggregateQuery = fromBeforeTo(
  filterFields.extend({
    bucket: z.enum(['hour', 'day', 'shift', 'none']).default('hour'),
    /** `model`: one series per model version; `none`: all results together. */
    groupBy: z.enum(['model', 'none']).default('model'),
  }),
);

export const ExportQuery = fromBeforeTo(
  filterFields.extend({ limit: z.coerce.number().int().min(1).max(1_000_000).default(100_000) }),
);

/** A WHERE clause with positional parameters ($1, $2, ...). */
export class Where {
  readonly parts: string[] = [];
  readonly params: unknown[] = [];

  add(sqlWithQ: string, ...values: unknown[]): this {
    let s = sqlWithQ;
    for (const v of values) {
      this.params.push(v);
      s = s.replace('?', `$${this.params.length}`);
    }
    this.parts.push(s);
    return this;
  }

  toString(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

export function filterWhere(f: ResultFilter): Where {
  const w = new Where();
  if (f.site) w.add('site = ?', f.site);
  if (f.line) w.add('line = ?', f.line);
  if (f.station) w.add('station = ?', f.station);
  if (f.deviceId) w.add('device_id = ?', f.deviceId);
  if (f.partId) w.add('part_id = ?', f.partId);
  if (f.category) w.add('category = ?', f.category);
  if (f.from) w.add('inspected_at >= ?::timestamptz', f.from);
  if (f.to) w.add('inspected_at < ?::timestamptz', f.to);
  if (f.verdict) w.add('verdict = ?', f.verdict);
  if (f.state) w.add('state = ?', f.state);
  if (f.modelName) w.add('model_name = ?', f.modelName);
  if (f.modelVersion) w.add('model_version = ?', f.modelVersion);
  if (f.minScore !== undefined) w.add('score >= ?', f.minScore);
  if (f.maxScore !== undefined) w.add('score <= ?', f.maxScore);
  return w;
}

export function encodeCursor(inspectedAt: string, resultId: string): string {
  return Buffer.from(`${inspectedAt}|${resultId}`).toString('base64url');
}

export function decodeCursor(cursor: string): { inspectedAt: string; resultId: string } {
  const [inspectedAt, resultId, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  // Exactly what encodeCursor writes: anything looser (a bare year, dashes for a uuid) reached SQL casts as a 500.
  if (
    rest.length > 0 ||
    !time.safeParse(inspectedAt).success ||
    !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(resultId ?? '')
  ) {
    throw new TypeError('cursor: not a cursor returned by this API');
  }
  return { inspectedAt, resultId };
}

/** SQL expression of the bucket start for `inspected_at`, in the plant's time zone. */
export function bucketExpr(
  bucket: 'hour' | 'day' | 'shift',
  tzParam: string,
  shift: { hours: number; origin: string },
): string {
  const local = `(inspected_at AT TIME ZONE ${tzParam})`;
  if (bucket === 'shift') {
    // Shifts of equal length starting at the origin time; date_bin keeps this one index-friendly expression.
    return `(date_bin(interval '${shift.hours} hours', ${local}, timestamp '2000-01-01 ${shift.origin}:00') AT TIME ZONE ${tzParam})`;
  }
  return `(date_trunc('${bucket}', ${local}) AT TIME ZONE ${tzParam})`;
}
