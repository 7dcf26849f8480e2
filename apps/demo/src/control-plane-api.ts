import type { InspectionResult } from '@diad/protocol';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`${method} ${path}: ${status} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
  }
}

export interface FleetIds {
  siteId: string;
  lineId: string;
  stationId: string;
}

export interface FleetCodes {
  site: string;
  line: string;
  station: string;
}

/** A result row of the defect history (the fields the demo and the system test read). */
export interface HistoryResult {
  resultId: string;
  partId: string;
  site: string;
  line: string;
  station: string;
  deviceId: string;
  state: InspectionResult['state'];
  verdict: 'OK' | 'NOK' | null;
  score: number | null;
  modelName: string | null;
  modelVersion: string | null;
  imageThreshold: number | null;
  capturedAt: string;
  inspectedAt: string;
  /** When the control plane stored it. */
  receivedAt: string | null;
  timingsMs: Record<string, number>;
}

interface Row {
  id?: string;
  code?: string;
}

/** The control plane's operator API as the demo uses it: idempotent seeding, registry, rollouts, history. */
export class ControlPlaneApi {
  private constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  static async login(baseUrl: string, username: string, password: string): Promise<ControlPlaneApi> {
    const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const body = await readBody(res);
    if (res.status !== 200) throw new ApiError('POST', '/api/v1/auth/login', res.status, body);
    return new ControlPlaneApi(baseUrl, (body as { token: string }).token);
  }

  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    let payload: FormData | string | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(this.baseUrl + path, { method, headers, body: payload });
    const parsed = await readBody(res);
    if (res.status >= 300) throw new ApiError(method, path, res.status, parsed);
    return parsed as T;
  }

  /** Site, line and station by code, created when missing. */
  async ensureFleet(codes: FleetCodes): Promise<FleetIds> {
    const sites = await this.call<Row[]>('GET', '/api/v1/sites');
    const site =
      sites.find((s) => s.code === codes.site) ??
      (await this.call<Row>('POST', '/api/v1/sites', { code: codes.site, name: `Site ${codes.site}` }));
    const lines = await this.call<Row[]>('GET', `/api/v1/lines?siteId=${site.id}`);
    const line =
      lines.find((l) => l.code === codes.line) ??
      (await this.call<Row>('POST', '/api/v1/lines', {
        siteId: site.id,
        code: codes.line,
        name: `Line ${codes.line}`,
      }));
    const stations = await this.call<Row[]>('GET', `/api/v1/stations?lineId=${line.id}`);
    const station =
      stations.find((s) => s.code === codes.station) ??
      (await this.call<Row>('POST', '/api/v1/stations', {
        lineId: line.id,
        code: codes.station,
        name: `Station ${codes.station}`,
      }));
    return { siteId: site.id!, lineId: line.id!, stationId: station.id! };
  }

  /** Uploads a bundle .tar to the registry; an already registered name+version (409) is kept as it is. */
  async ensureModel(tar: Buffer, name: string, version: string): Promise<{ uploaded: boolean }> {
    const form = new FormData();
    form.append('bundle', new Blob([new Uint8Array(tar)]), `${name}-${version}.tar`);
    try {
      await this.call('POST', '/api/v1/models', form);
      return { uploaded: true };
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) return { uploaded: false };
      throw e;
    }
  }

  async createEnrolmentToken(stationId: string, deviceName: string): Promise<string> {
    const r = await this.call<{ token: string }>('POST', '/api/v1/enrolment-tokens', {
      stationId,
      deviceName,
    });
    return r.token;
  }

  async deviceExists(deviceId: string): Promise<boolean> {
    try {
      await this.call('GET', `/api/v1/devices/${encodeURIComponent(deviceId)}`);
      return true;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 400)) return false;
      throw e;
    }
  }

  async desiredModel(deviceId: string): Promise<{ name: string; version: string } | null> {
    const d = await this.call<{ model: { name: string; version: string } | null }>(
      'GET',
      `/api/v1/devices/${encodeURIComponent(deviceId)}/desired-state`,
    );
    return d.model ? { name: d.model.name, version: d.model.version } : null;
  }

  /** Rolls a model out to one station in a single stage (promotion automatic). */
  async rollOut(model: { name: string; version: string }, stationId: string, reason: string) {
    return this.call<{ id: string; status: string }>('POST', '/api/v1/rollouts', {
      model,
      target: { stations: [stationId] },
      stages: [{ percent: 100 }],
      policy: { promotion: 'auto', bakeSeconds: 0 },
      reason,
    });
  }

  async rollout(id: string) {
    return this.call<{ id: string; status: string }>('GET', `/api/v1/rollouts/${id}`);
  }

  /** A new threshold set for a line (takes effect now). */
  async setLineThresholds(lineId: string, t: { image?: number; pixel?: number }) {
    return this.call<{ version: number }>('POST', `/api/v1/lines/${lineId}/thresholds`, t);
  }

  /** Results stored in the defect history matching `filter` (OK, NOK, errors). */
  async historyCounts(filter: Record<string, string> = {}) {
    const q = new URLSearchParams({ ...filter, bucket: 'none', groupBy: 'none' });
    const r = await this.call<{ series: Array<{ total: number; ok: number; nok: number; errors: number }> }>(
      'GET',
      `/api/v1/results/aggregates?${q}`,
    );
    return r.series[0] ?? { total: 0, ok: 0, nok: 0, errors: 0 };
  }

  /** Defect history, newest first, every page. */
  async results(filter: Record<string, string> = {}, max = 100_000): Promise<HistoryResult[]> {
    const out: HistoryResult[] = [];
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({ ...filter, limit: '1000' });
      if (cursor) q.set('cursor', cursor);
      const page: { items: Array<Record<string, unknown>>; nextCursor: string | null } = await this.call(
        'GET',
        `/api/v1/results?${q}`,
      );
      out.push(...page.items.map(toHistoryResult));
      cursor = page.nextCursor;
    } while (cursor && out.length < max);
    return out;
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').includes('json') && text) return JSON.parse(text);
  return text;
}

function toHistoryResult(r: Record<string, unknown>): HistoryResult {
  const thresholds = r.thresholds as { image: number | null } | null;
  const model = r.model as { name: string; version: string } | null;
  return {
    resultId: r.resultId as string,
    partId: r.partId as string,
    site: r.site as string,
    line: r.line as string,
    station: r.station as string,
    deviceId: r.deviceId as string,
    state: r.state as HistoryResult['state'],
    verdict: (r.verdict as HistoryResult['verdict']) ?? null,
    score: (r.score as number | null) ?? null,
    modelName: model?.name ?? null,
    modelVersion: model?.version ?? null,
    imageThreshold: thresholds?.image ?? null,
    capturedAt: r.capturedAt as string,
    inspectedAt: r.inspectedAt as string,
    receivedAt: (r.receivedAt as string | null) ?? null,
    timingsMs: (r.timingsMs as Record<string, number>) ?? {},
  };
}
