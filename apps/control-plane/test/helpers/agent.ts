import { createHash } from 'node:crypto';
import { agentApi, type DesiredState, type Heartbeat, type InspectionResult, uuidv7 } from '@diad/protocol';
import { type Client, client } from './harness.js';

type Report = Heartbeat['modelReports'][number];

/** Follows the agent protocol step by step, as the real agent would, so tests can script a device. */
export class ScriptedAgent {
  deviceId = '';
  credential = '';
  address = { site: '', line: '', station: '' };
  api: Client;
  active: DesiredState['model'] = null;

  constructor(private readonly base: string) {
    this.api = client(base);
  }

  async enrol(token: string, hostname = 'edge-1') {
    const r = await this.api.post(agentApi.enrol, {
      token,
      hostname,
      agentVersion: '0.1.0',
      providers: ['cpu'],
    });
    if (r.status !== 201) throw new Error(`enrol: ${r.status} ${JSON.stringify(r.body)}`);
    this.deviceId = r.body.deviceId;
    this.credential = r.body.credential;
    this.address = { site: r.body.site, line: r.body.line, station: r.body.station };
    this.api = client(this.base, this.credential);
    return r.body;
  }

  async desired(): Promise<DesiredState> {
    const r = await this.api.get(agentApi.desiredState);
    if (r.status !== 200) throw new Error(`desired-state: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async heartbeat(reports: Report[] = [], extra: Partial<Heartbeat> = {}) {
    const hb: Heartbeat = {
      schema: 'diad.heartbeat/v1',
      at: new Date().toISOString(),
      health: 'ok',
      provider: 'cpu',
      queueDepth: 0,
      outboxDepth: 0,
      activeModel: this.active
        ? { name: this.active.name, version: this.active.version, sha256: this.active.sha256 }
        : null,
      modelReports: reports,
      ...extra,
    };
    const r = await this.api.post(agentApi.heartbeat, hb);
    if (r.status !== 200) throw new Error(`heartbeat: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as { revision: number };
  }

  /** Fetches the desired state, downloads and checks the bundle, then reports active (or failed when told to). */
  async follow(opts: { fail?: boolean } = {}) {
    const d = await this.desired();
    const m = d.model;
    if (!m || m.sha256 === this.active?.sha256) return d;
    const ref = { name: m.name, version: m.version, sha256: m.sha256 };
    await this.heartbeat([{ model: ref, state: 'downloading', error: null, rolloutId: d.rolloutId }]);
    const res = await fetch(this.base + m.url, { headers: { authorization: `Bearer ${this.credential}` } });
    const tar = Buffer.from(await res.arrayBuffer());
    const sha = createHash('sha256').update(tar).digest('hex');
    if (res.status !== 200 || sha !== m.sha256) throw new Error(`bundle download: ${res.status}, sha ${sha}`);
    if (opts.fail) {
      await this.heartbeat([
        { model: ref, state: 'failed', error: 'warm-up failed', rolloutId: d.rolloutId },
      ]);
      return d;
    }
    this.active = m;
    await this.heartbeat([{ model: ref, state: 'active', error: null, rolloutId: d.rolloutId }]);
    return d;
  }

  result(over: Partial<InspectionResult> = {}): InspectionResult {
    const now = new Date().toISOString();
    return {
      schema: 'diad.result/v1',
      resultId: uuidv7(),
      ...this.address,
      camera: 'cam1',
      deviceId: this.deviceId,
      partId: `part-${Math.floor(Math.random() * 1e9)}`,
      capturedAt: now,
      inspectedAt: now,
      state: 'ok',
      verdict: 'OK',
      score: 0.1,
      normalizedScore: 0.2,
      defectAreaPx: 0,
      thresholds: { version: 0, image: 0.5, pixel: 0.3 },
      model: this.active
        ? { name: this.active.name, version: this.active.version, sha256: this.active.sha256 }
        : null,
      provider: 'cpu',
      timingsMs: { total: 12 },
      error: null,
      imageRef: null,
      heatmapRef: null,
      shadow: null,
      ...over,
    };
  }

  async postResults(results: InspectionResult[]) {
    return this.api.post(agentApi.results, { results });
  }
}
