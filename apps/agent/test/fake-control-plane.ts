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
      const authed = req.headers.authorization === `Bearer ${this.credential}`;
      if (req.method === 'POST' && req.url === agentApi.enrol) {
        const r = EnrolRequest.safeParse(body);
        if (!r.success) return send(400, { error: 'bad request' });
        if (!this.tokens.delete(r.data.token)) return send(401, { error: 'token unknown or used' });
        this.enrolments++;
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
        res.writeHead(200, { 'content-type': 'application/x-tar' });
        return res.end(this.bundles.get(m[1]));
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
