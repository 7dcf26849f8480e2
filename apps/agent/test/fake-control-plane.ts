import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import {
  agentApi,
  type DesiredState,
  EnrolRequest,
  Heartbeat,
  type InspectionResult,
  ResultBatch,
} from '@diad/protocol';

/** A small control plane over real HTTP that follows @diad/protocol's agentApi (test double). */
export class FakeControlPlane {
  readonly heartbeats: Heartbeat[] = [];
  readonly results: InspectionResult[] = [];
  readonly tokens = new Set<string>(['one-time-token-0123456789']);
  readonly credential = 'c'.repeat(40);
  readonly bundles = new Map<string, Buffer>();
  desired: DesiredState = {
    schema: 'diad.desired/v1',
    deviceId: 'dev-1',
    revision: 0,
    model: null,
    shadowModel: null,
    rolloutId: null,
    thresholds: null,
    categoryThresholds: {},
  };
  readonly artifacts = new Map<string, { type: string; bytes: Buffer }>();
  /** Status to answer artifact uploads with (simulate outages). */
  artifactStatus = 200;
  /** Result ids the fake has "not stored yet": their artifacts are answered 409, as the real one does. */
  readonly unknownResults = new Set<string>();
  /** Status to answer result batches with (simulate outages). */
  resultsStatus = 200;
  resultBatches = 0;
  /** Refuses single results as the real control plane does (a reason, or null to take it). */
  refuseResult: ((r: InspectionResult) => string | null) | null = null;
  /** A broker login to hand out at enrolment (as BROKER_IDENTITIES does), or none. */
  broker: { username: string; password: string } | undefined;
  enrolments = 0;
  downloads = 0;
  /** Every enrolment request as received. */
  readonly enrolRequests: unknown[] = [];
  /**
   * Faults for the next matching requests, each used once: `503` answers 503 without handling the request;
   * `drop` handles it (a token is used, a download starts) and then resets the connection instead of answering
   * in full (a bundle: after half of its bytes).
   */
  readonly faults: Array<{ method: string; path: RegExp; kind: 503 | 'drop' }> = [];
  /** As the control plane does: a retry of the request that used a token gets the same answer (else 401). */
  idempotentEnrolment = false;
  private readonly used = new Map<string, string>();
  private server!: Server;
  url = '';

  async start() {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const rawBody = Buffer.concat(chunks);
      const isJson = (req.headers['content-type'] ?? '').startsWith('application/json');
      const body = chunks.length && isJson ? JSON.parse(rawBody.toString()) : undefined;
      const send = (status: number, obj?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(obj === undefined ? '' : JSON.stringify(obj));
      };
      if (req.method === 'POST' && req.url === agentApi.enrol) this.enrolRequests.push(body);
      const fault = this.faults.findIndex((f) => f.method === req.method && f.path.test(req.url ?? ''));
      const kind = fault >= 0 ? this.faults.splice(fault, 1)[0].kind : null;
      if (kind === 503) return send(503, { error: 'simulated' });
      const drop = kind === 'drop';
      const authed = req.headers.authorization === `Bearer ${this.credential}`;
      if (req.method === 'POST' && req.url === agentApi.enrol) {
        const r = EnrolRequest.safeParse(body);
        if (!r.success) return send(400, { error: 'bad request' });
        const same = JSON.stringify({ ...r.data, token: undefined });
        if (!this.idempotentEnrolment || this.used.get(r.data.token) !== same) {
          if (!this.tokens.delete(r.data.token)) return send(401, { error: 'token unknown or used' });
          if (this.idempotentEnrolment) this.used.set(r.data.token, same);
          this.enrolments++;
        }
        if (drop) return req.socket.destroy();
        return send(201, {
          deviceId: 'dev-1',
          credential: this.credential,
          site: 'site1',
          line: 'line1',
          station: 'st1',
          ...(this.broker ? { broker: this.broker } : {}),
        });
      }
      if (!authed) return send(401, { error: 'unauthorised' });
      if (req.method === 'POST' && req.url === agentApi.heartbeat) {
        const r = Heartbeat.safeParse(body);
        if (!r.success) return send(400, { error: r.error.issues[0].message });
        this.heartbeats.push(r.data);
        return send(204);
      }
      if (req.method === 'GET' && req.url === agentApi.desiredState) return send(200, this.desired);
      if (req.method === 'POST' && req.url === agentApi.results) {
        if (this.resultsStatus !== 200) return send(this.resultsStatus, { error: 'simulated' });
        this.resultBatches++;
        const r = ResultBatch.safeParse(body);
        if (!r.success) return send(400, { error: r.error.issues[0].message });
        const known = new Set(this.results.map((x) => x.resultId));
        const refused: Array<{ index: number; resultId: string; status: number; message: string }> = [];
        const taken = r.data.results.filter((x, index) => {
          const why = this.refuseResult?.(x);
          if (why) refused.push({ index, resultId: x.resultId, status: 400, message: why });
          return !why;
        });
        const fresh = taken.filter((x) => !known.has(x.resultId));
        this.results.push(...fresh);
        const out = { accepted: fresh.length, duplicates: taken.length - fresh.length };
        if (taken.length === 0 && refused.length)
          return send(400, { ...out, message: refused[0].message, refused });
        return send(200, refused.length ? { ...out, refused } : out);
      }
      const a = req.url?.match(/^\/api\/v1\/agent\/results\/([0-9a-f-]{36})\/(image|heatmap)$/);
      if (req.method === 'PUT' && a) {
        if (this.artifactStatus !== 200) return send(this.artifactStatus, { error: 'simulated' });
        if (this.unknownResults.has(a[1])) return send(409, { error: `result ${a[1]} is not stored` });
        const type = req.headers['content-type'] ?? '';
        if (!['image/png', 'image/jpeg', 'image/webp'].includes(type)) return send(415, { error: 'type' });
        this.artifacts.set(`${a[1]}/${a[2]}`, { type, bytes: rawBody });
        return send(200, { resultId: a[1], kind: a[2], bytes: rawBody.length });
      }
      const m = req.url?.match(/^\/api\/v1\/bundles\/([0-9a-f]{64})$/);
      if (req.method === 'GET' && m && this.bundles.has(m[1])) {
        this.downloads++;
        const bytes = this.bundles.get(m[1])!;
        res.writeHead(200, { 'content-type': 'application/x-tar', 'content-length': bytes.length });
        if (drop) {
          res.write(bytes.subarray(0, bytes.length >> 1));
          return setTimeout(() => req.socket.destroy(), 20);
        }
        return res.end(bytes);
      }
      send(404, { error: 'not found' });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  }

  /** Offers `bytes` as a bundle; `served` lets a test serve different (corrupt) bytes under the same sha. */
  offer(
    bytes: Buffer,
    name: string,
    version: string,
    opts: { served?: Buffer; signature?: string | null } = {},
  ) {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    this.bundles.set(sha256, opts.served ?? bytes);
    return {
      name,
      version,
      sha256,
      url: `/api/v1/bundles/${sha256}`,
      bytes: bytes.length,
      signature: opts.signature ?? null,
    };
  }

  close() {
    return new Promise<void>((r) => this.server.close(() => r()));
  }
}
