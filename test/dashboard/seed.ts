import { createHash, randomBytes } from 'node:crypto';
import { encodePng, turbo } from '@diad/pipeline';
import { packTar } from '@diad/protocol/tar';
import { identityOnnx } from '../../apps/control-plane/test/helpers/onnx.js';

/** Seeds a control plane through its public HTTP API only, the way operators and agents would. */

export const USERS = {
  admin: { username: 'admin', password: 'admin-password-for-tests' },
  engineer: { username: 'erin', password: 'engineer-password-1' },
  supervisor: { username: 'sam', password: 'supervisor-password-1' },
} as const;

// biome-ignore lint/suspicious/noExplicitAny: API replies in tests are read as loose JSON
type Json = any;

export class Http {
  constructor(
    readonly base: string,
    readonly token?: string,
  ) {}

  async call<T = Json>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body instanceof Buffer) {
      payload = new Uint8Array(body);
      headers['content-type'] = contentType ?? 'application/octet-stream';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(this.base + path, { method, headers, body: payload });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T = Json>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T = Json>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }
}

export async function signIn(base: string, who: { username: string; password: string }): Promise<Http> {
  const r = await new Http(base).post<{ token: string }>('/api/v1/auth/login', who);
  return new Http(base, r.token);
}

/** A deterministic pseudo-random sequence (mulberry32), so seeded data is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A bundle that satisfies the manifest contract; the graphs are random bytes (the control plane never runs them). */
export function bundle(name: string, version: string, imageThreshold: number): Promise<Buffer> {
  const graph = (file: string) => ({
    file,
    opset: 17,
    inputs: [{ name: 'x', shape: [1, 3, 256, 256], dtype: 'float32' }],
    outputs: [{ name: 'y', shape: [1, 3, 256, 256], dtype: 'float32' }],
  });
  const files: Record<string, Buffer> = {};
  for (const g of ['encoder', 'denoiser', 'decoder', 'features']) files[`${g}.onnx`] = identityOnnx(2048);
  const manifest = {
    format: 'diad-bundle',
    formatVersion: 1,
    model: { name, version, created: '2026-11-20T08:00:00Z', description: `housing inspection ${version}` },
    source: {},
    input: {
      width: 256,
      height: 256,
      channels: 3,
      channelOrder: 'RGB',
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
    },
    latent: { channels: 4, height: 32, width: 32, scale: 0.18215 },
    schedule: { type: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012, trainSteps: 1000 },
    sampler: { type: 'ddim', eta: 0, startStep: 999, steps: 10 },
    graphs: {
      encoder: graph('encoder.onnx'),
      denoiser: graph('denoiser.onnx'),
      decoder: graph('decoder.onnx'),
      features: graph('features.onnx'),
    },
    features: { network: 'mobilenet_v2', layers: ['block_3', 'block_6', 'block_10'] },
    scoring: {
      mapWidth: 256,
      mapHeight: 256,
      upsample: 'bilinear-align-corners',
      sigma: 4,
      poolKernel: 8,
      poolRounds: 1,
    },
    calibration: { imageThreshold, pixelThreshold: 0.3 },
    files: Object.fromEntries(
      Object.entries(files).map(([p, b]) => [p, { sha256: sha256(b), bytes: b.length }]),
    ),
  };
  return packTar([
    { name: 'manifest.json', data: JSON.stringify(manifest) },
    ...Object.entries(files).map(([name, data]) => ({ name, data })),
  ]);
}

/** A camera frame of a machined housing with a scratch, and its anomaly heatmap (turbo colours), as PNGs. */
export async function partImages(
  w = 320,
  h = 240,
  defect = { x: 210, y: 90 },
): Promise<{ image: Buffer; heatmap: Buffer }> {
  const img = Buffer.alloc(w * h * 3);
  const heat = Buffer.alloc(w * h * 3);
  const rnd = prng(7);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const dx = x - w / 2;
      const dy = y - h / 2;
      const inPart = (dx * dx) / (130 * 130) + (dy * dy) / (95 * 95) < 1;
      const hole = dx * dx + dy * dy < 28 * 28;
      let v = inPart && !hole ? 150 + 40 * (x / w) + 12 * rnd() : 40 + 6 * rnd();
      // The scratch: a dark diagonal stroke near the defect point.
      const sx = x - defect.x;
      const sy = y - defect.y;
      if (inPart && Math.abs(sy - 0.6 * sx) < 2.2 && Math.abs(sx) < 22) v = 60;
      img[i] = v;
      img[i + 1] = v;
      img[i + 2] = v + 6;
      const a = Math.exp(-(sx * sx + sy * sy) / (2 * 16 * 16));
      const [r, g, b] = turbo(a);
      heat[i] = r;
      heat[i + 1] = g;
      heat[i + 2] = b;
    }
  }
  return { image: await encodePng(img, w, h), heatmap: await encodePng(heat, w, h) };
}

export interface Agent {
  name: string;
  deviceId: string;
  http: Http;
  site: string;
  line: string;
  station: string;
}

export interface Seeded {
  lines: Record<'L1' | 'L2', { id: string; code: string }>;
  agents: Record<'l1a' | 'l1b' | 'l2a', Agent>;
  models: Record<'v1' | 'v2', { id: string; name: string; version: string; sha256: string }>;
  rolloutId: string;
  /** A NOK result on line L1 with a stored image and heatmap. */
  defect: { resultId: string; partId: string; score: number; threshold: number };
  resultCount: number;
}

let partSeq = 1000;

/** Builds an inspection result (the agent's contract, diad.result/v1). */
export function makeResult(
  a: Agent,
  opts: {
    at: Date;
    score: number;
    threshold: number;
    model: { name: string; version: string; sha256: string };
    partId?: string;
  },
) {
  const nok = opts.score > opts.threshold;
  const resultId = uuidv7(opts.at.getTime());
  partSeq += 1;
  return {
    schema: 'diad.result/v1',
    resultId,
    site: a.site,
    line: a.line,
    station: a.station,
    camera: 'cam0',
    deviceId: a.deviceId,
    partId: opts.partId ?? `P-${partSeq}`,
    capturedAt: new Date(opts.at.getTime() - 180).toISOString(),
    inspectedAt: opts.at.toISOString(),
    state: nok ? 'nok' : 'ok',
    verdict: nok ? 'NOK' : 'OK',
    score: opts.score,
    normalizedScore: Math.min(1, opts.score / (2 * opts.threshold)),
    defectAreaPx: nok ? Math.round(opts.score * 900) : 0,
    thresholds: { version: 1, image: opts.threshold, pixel: 0.3 },
    model: opts.model,
    provider: a.name === 'edge-l1-a' ? 'cuda' : 'cpu',
    timingsMs: { preprocess: 3.1, diffusion: 41.7, score: 2.4 },
    error: null,
    imageRef: null,
    heatmapRef: null,
    shadow: null,
  };
}

/** UUIDv7 (time-ordered), as agents mint result ids. */
function uuidv7(ms: number): string {
  const b = randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = b.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export async function seed(base: string, now = new Date()): Promise<Seeded> {
  const admin = await signIn(base, USERS.admin);
  for (const role of ['engineer', 'supervisor'] as const) {
    await admin.post('/api/v1/users', { ...USERS[role], role });
  }
  const engineer = await signIn(base, USERS.engineer);
  const site = await admin.post('/api/v1/sites', { code: 'plant1', name: 'Plant 1' });
  const L1 = await admin.post('/api/v1/lines', { siteId: site.id, code: 'L1', name: 'Line 1 housings' });
  const L2 = await admin.post('/api/v1/lines', { siteId: site.id, code: 'L2', name: 'Line 2 covers' });
  const st = async (lineId: string, code: string) =>
    admin.post('/api/v1/stations', { lineId, code, name: code });
  const stations = { l1a: await st(L1.id, 'st1'), l1b: await st(L1.id, 'st2'), l2a: await st(L2.id, 'st1') };

  const agents = {} as Seeded['agents'];
  for (const [key, name] of [
    ['l1a', 'edge-l1-a'],
    ['l1b', 'edge-l1-b'],
    ['l2a', 'edge-l2-a'],
  ] as const) {
    const t = await admin.post('/api/v1/enrolment-tokens', { stationId: stations[key].id, deviceName: name });
    const e = await new Http(base).post('/api/v1/agent/enrol', {
      token: t.token,
      hostname: `${name}.plant1.local`,
      agentVersion: '0.1.0',
      providers: ['cuda', 'cpu'],
    });
    agents[key] = {
      name,
      deviceId: e.deviceId,
      http: new Http(base, e.credential),
      site: e.site,
      line: e.line,
      station: e.station,
    };
  }

  const upload = async (version: string) => {
    const fd = new FormData();
    fd.append('bundle', new Blob([new Uint8Array(await bundle('diad-housing', version, 0.5))]), 'bundle.tar');
    return engineer.call('POST', '/api/v1/models', fd);
  };
  const v1 = await upload('1.0.0');
  const v2 = await upload('1.1.0');
  const ref = (m: { name: string; version: string; sha256: string }) => ({
    name: m.name,
    version: m.version,
    sha256: m.sha256,
  });

  const heartbeat = (a: Agent, extra: Record<string, unknown>) =>
    a.http.post('/api/v1/agent/heartbeat', {
      schema: 'diad.heartbeat/v1',
      at: now.toISOString(),
      health: 'ok',
      provider: 'cpu',
      queueDepth: 0,
      outboxDepth: 0,
      activeModel: ref(v1),
      modelReports: [],
      ...extra,
    });
  await heartbeat(agents.l1a, {
    provider: 'cuda',
    queueDepth: 2,
    plc: [
      { interface: 'opcua', state: 'up', clients: 1, detail: null },
      { interface: 's7', state: 'down', pending: 4, detail: 'connect ECONNREFUSED' },
    ],
  });
  await heartbeat(agents.l1b, {
    health: 'degraded',
    outboxDepth: 37,
    setAside: {
      count: 3,
      lastReason: '422 result: partId: expected no control characters',
      lastAt: '2026-11-28T09:00:00.000Z',
    },
  });
  // edge-l2-a never reports: it shows as offline.

  // 30 hours of history: one part per device every 20 minutes; L1's first device runs 1.1.0 for the last 8 hours.
  const rnd = prng(42);
  let count = 0;
  for (const a of [agents.l1a, agents.l1b, agents.l2a]) {
    const batch = [];
    for (let m = 30 * 60; m >= 20; m -= 20) {
      const at = new Date(now.getTime() - m * 60_000 + Math.floor(rnd() * 50_000));
      const newer = a === agents.l1a && m <= 8 * 60;
      const base = a === agents.l2a ? 0.3 : 0.32;
      const score =
        Math.round((base + rnd() * 0.18 + (rnd() < (newer ? 0.05 : 0.12) ? 0.3 : 0)) * 1000) / 1000;
      batch.push(makeResult(a, { at, score, threshold: 0.5, model: ref(newer ? v2 : v1) }));
    }
    await a.http.post('/api/v1/agent/results', { results: batch });
    count += batch.length;
  }
  const defectResult = makeResult(agents.l1a, {
    at: new Date(now.getTime() - 5 * 60_000),
    score: 0.731,
    threshold: 0.5,
    model: ref(v2),
    partId: 'P-7731',
  });
  await agents.l1a.http.post('/api/v1/agent/results', { results: [defectResult] });
  count += 1;
  const pics = await partImages();
  await agents.l1a.http.call(
    'PUT',
    `/api/v1/agent/results/${defectResult.resultId}/image`,
    pics.image,
    'image/png',
  );
  await agents.l1a.http.call(
    'PUT',
    `/api/v1/agent/results/${defectResult.resultId}/heatmap`,
    pics.heatmap,
    'image/png',
  );

  await engineer.post(`/api/v1/lines/${L1.id}/thresholds`, {
    image: 0.5,
    pixel: 0.3,
    note: 'from calibration run 14',
  });
  await engineer.post(`/api/v1/lines/${L2.id}/thresholds`, { image: 0.48, pixel: 0.3 });

  const rollout = await engineer.post('/api/v1/rollouts', {
    model: { name: 'diad-housing', version: '1.1.0' },
    target: { lines: [L1.id] },
    stages: [{ percent: 50 }, { percent: 100 }],
    reason: 'lower false NOK on reflective housings',
  });
  // The canary device activates the candidate.
  const canary = rollout.devices[0].deviceId as string;
  const ca = Object.values(agents).find((a) => a.deviceId === canary)!;
  await heartbeat(ca, {
    provider: ca === agents.l1a ? 'cuda' : 'cpu',
    activeModel: ref(v2),
    modelReports: [{ model: ref(v2), state: 'active', error: null, rolloutId: rollout.id }],
  });

  return {
    lines: { L1: { id: L1.id, code: 'L1' }, L2: { id: L2.id, code: 'L2' } },
    agents,
    models: { v1, v2 },
    rolloutId: rollout.id,
    defect: { resultId: defectResult.resultId, partId: 'P-7731', score: 0.731, threshold: 0.5 },
    resultCount: count,
  };
}
