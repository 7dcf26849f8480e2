import type { BundleManifest, GraphName } from '@diad/protocol';
import type { GraphSession, HostTensor } from '../backend/types.js';
import { gaussianBlur } from '../core/blur.js';
import { cosineDistanceMap } from '../core/cosine.js';
import { ddimStep, posteriorSample, qSample } from '../core/ddim.js';
import { poolScore } from '../core/pool.js';
import { fillNormal, Xoshiro128 } from '../core/rng.js';
import { ddimTimesteps } from '../core/schedule.js';
import { upsampleBilinearAlignCorners } from '../core/upsample.js';
import type { RunBuffers } from './buffers.js';

export type Sessions = Record<GraphName, GraphSession>;

/** The graphs produced NaN/Infinity for a frame: no score can be trusted. */
export class NonFiniteOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NonFiniteOutputError';
  }
}

export interface NoisePair {
  n1: Float32Array;
  n2: Float32Array;
}

export interface RunParams {
  startStep: number;
  steps: number;
  /** Reconstructions per frame; their raw anomaly maps are averaged before blur and pooling. */
  draws: number;
  seed: number;
  /** One pair per draw; when absent, draw d takes the (2d+1)-th and (2d+2)-th noise planes of one seeded stream. */
  noise?: NoisePair[];
  /**
   * Draws run together in one denoiser (and decoder and features) call: the frames are repeated once per draw
   * along the batch axis. 1 runs the draws one after another. Needs graphs with a dynamic batch axis.
   */
  drawsPerCall: number;
  mode: 'diad' | 'autoencoder';
  keepTensors: boolean;
  /** Optional hook for parity tests: receives every intermediate of frame 0 (copies). */
  trace?: (name: string, value: Float32Array) => void;
}

export interface FrameResult {
  score: number;
  map: Float32Array;
  input?: Float32Array;
  reconstruction?: Float32Array;
}

/** Milliseconds per stage; `inference` is the time spent inside graph runs. */
export type StageTimings = Record<string, number>;

/** Stage clock that also accumulates the time spent inside the runtime, for the overhead figure. */
export class StageClock {
  readonly timings: StageTimings = {};
  inference = 0;
  private last = performance.now();
  mark(stage: string): void {
    const now = performance.now();
    this.timings[stage] = (this.timings[stage] ?? 0) + (now - this.last);
    this.last = now;
  }
  async graph(
    s: GraphSession,
    feeds: Record<string, HostTensor>,
    outs: Record<string, HostTensor>,
  ): Promise<void> {
    const t0 = performance.now();
    await s.run(feeds, outs);
    this.inference += performance.now() - t0;
  }
}

function withBatch(t: HostTensor, n: number): HostTensor {
  return t.dims[0] === n ? t : { ...t, dims: [n, ...t.dims.slice(1)] };
}

function setTimestep(t: HostTensor, value: number): void {
  if (t.data instanceof BigInt64Array) t.data.fill(BigInt(value));
  else (t.data as Int32Array | Float32Array).fill(value);
}

/** Frame i's slice of a batched float tensor whose frames hold `size` values each. */
function frameView(t: HostTensor, i: number, size: number): Float32Array {
  return (t.data as Float32Array).subarray(i * size, (i + 1) * size);
}

/** Buffers for `rows` = frames × draws-in-one-call rows (only the reconstruction tensors of them are used). */
export type RowBuffers = (rows: number) => RunBuffers;

/**
 * The run of docs/bundle.md ("The run, exactly") for the `bufs.batch` frames already written into bufs.x.
 * All tensors are the preallocated ones in `bufs` (and, when draws share a call, in `rowBuffers(frames × draws)`);
 * only the returned maps (and kept tensors) are new.
 */
export async function runDiad(
  m: BundleManifest,
  sessions: Sessions,
  bufs: RunBuffers,
  alphasCumprod: Float64Array,
  p: RunParams,
  clock: StageClock,
  rowBuffers?: RowBuffers,
): Promise<FrameResult[]> {
  const B = bufs.batch;
  const L = bufs.latentSize;
  const g = m.graphs;
  const trace = p.trace;

  await clock.graph(
    sessions.encoder,
    { [g.encoder.inputs[0].name]: bufs.x },
    { [g.encoder.outputs[0].name]: bufs.mean, [g.encoder.outputs[1].name]: bufs.logvar },
  );
  clock.mark('encode');
  if (trace) {
    trace('x', frameView(bufs.x, 0, bufs.imageSize).slice());
    trace('mean', frameView(bufs.mean, 0, L).slice());
    trace('logvar', frameView(bufs.logvar, 0, L).slice());
  }

  const fin = g.features.inputs[0].name;
  const outsOfRows = (rb: RunBuffers) => Object.fromEntries(rb.layers.map((l) => [l.name, l.ofRecon]));
  await clock.graph(
    sessions.features,
    { [fin]: bufs.x },
    Object.fromEntries(bufs.layers.map((l) => [l.name, l.ofInput])),
  );
  clock.mark('features');

  const { mapWidth, mapHeight } = m.scoring;
  const mapSize = mapWidth * mapHeight;
  // Per-frame sum of the raw (unblurred) maps over the draws; blur and pooling come after averaging.
  const sums = Array.from({ length: B }, (_, i) => bufs.mapSums.subarray(i * mapSize, (i + 1) * mapSize));
  bufs.mapSums.fill(0, 0, B * mapSize);
  const kept: (Float32Array | undefined)[] = new Array(B);
  const draws = p.mode === 'autoencoder' ? 1 : p.draws;
  const perCall = rowBuffers ? Math.max(1, Math.min(p.drawsPerCall, draws)) : 1;
  const rng = p.noise ? undefined : new Xoshiro128(p.seed);
  const L1 = bufs.n1.length;
  for (let d0 = 0; d0 < draws; d0 += perCall) {
    const n = Math.min(perCall, draws - d0);
    // Row r of this call is frame r mod B of draw d0 + floor(r / B).
    const rb = n === 1 ? bufs : rowBuffers!(B * n);
    if (rb !== bufs) {
      const x = bufs.x.data as Float32Array;
      const mean = bufs.mean.data as Float32Array;
      const logvar = bufs.logvar.data as Float32Array;
      for (let j = 0; j < n; j++) {
        (rb.x.data as Float32Array).set(x, j * x.length);
        (rb.mean.data as Float32Array).set(mean, j * mean.length);
        (rb.logvar.data as Float32Array).set(logvar, j * logvar.length);
      }
    }
    const n1 = n === 1 ? bufs.n1 : new Float32Array(n * L1);
    const n2 = n === 1 ? bufs.n2 : new Float32Array(n * L1);
    for (let j = 0; j < n; j++) {
      const a = n1.subarray(j * L1, (j + 1) * L1);
      const b = n2.subarray(j * L1, (j + 1) * L1);
      if (p.noise) {
        a.set(p.noise[d0 + j].n1);
        b.set(p.noise[d0 + j].n2);
      } else {
        fillNormal(rng!, a);
        fillNormal(rng!, b);
      }
    }
    const traceDraw = d0 === 0 ? trace : undefined;
    await reconstruct(m, sessions, rb, alphasCumprod, p, clock, traceDraw, n1, n2, B);
    await clock.graph(sessions.features, { [fin]: rb.recon }, outsOfRows(rb));
    clock.mark('features');
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < B; i++) {
        const row = j * B + i;
        bufs.mapRaw.fill(0);
        bufs.layers.forEach((l, li) => {
          const size = l.channels * l.height * l.width;
          const a = frameView(l.ofInput, i, size);
          const b = frameView(rb.layers[li].ofRecon, row, size);
          if (traceDraw && row === 0) {
            traceDraw(`feat_in_${li}`, a.slice());
            traceDraw(`feat_rec_${li}`, b.slice());
          }
          cosineDistanceMap(a, b, l.channels, l.height, l.width, l.dist);
          upsampleBilinearAlignCorners(l.dist, l.upsample, bufs.mapRaw, true);
        });
        const sum = sums[i];
        for (let k = 0; k < mapSize; k++) sum[k] += bufs.mapRaw[k];
        if (d0 === 0 && j === 0 && p.keepTensors) kept[i] = frameView(rb.recon, i, bufs.imageSize).slice();
      }
    }
    clock.mark('map');
  }

  const results: FrameResult[] = [];
  for (let i = 0; i < B; i++) {
    const raw = sums[i];
    if (draws > 1) for (let k = 0; k < mapSize; k++) raw[k] /= draws;
    if (trace && i === 0) trace('map_raw', raw.slice());
    const map = new Float32Array(mapSize);
    gaussianBlur(raw, bufs.blur, map);
    const score = poolScore(map, bufs.pool);
    // A NaN would compare false against the threshold and pass as OK: refuse to give a verdict instead.
    if (!Number.isFinite(score) || !map.every(Number.isFinite)) {
      throw new NonFiniteOutputError(
        `frame ${i}: the model produced non-finite values (NaN or Infinity) in the anomaly map`,
      );
    }
    if (trace && i === 0) {
      trace('map', map.slice());
      trace('score', Float32Array.of(score));
    }
    const r: FrameResult = { score, map };
    if (p.keepTensors) {
      r.input = frameView(bufs.x, i, bufs.imageSize).slice();
      r.reconstruction = kept[i];
    }
    results.push(r);
  }
  clock.mark('map');
  return results;
}

/**
 * One reconstruction of every row in bufs.x into bufs.recon: the autoencoder alone (posterior mean), or DiAD's
 * posterior sample, forward noising to startStep and DDIM denoising. Row r takes the noise planes of draw
 * floor(r / framesPerDraw) in n1 and n2 (one latent-sized plane per draw, back to back).
 */
async function reconstruct(
  m: BundleManifest,
  sessions: Sessions,
  bufs: RunBuffers,
  alphasCumprod: Float64Array,
  p: RunParams,
  clock: StageClock,
  trace: RunParams['trace'],
  n1: Float32Array,
  n2: Float32Array,
  framesPerDraw: number,
): Promise<void> {
  const B = bufs.batch;
  const L = bufs.latentSize;
  const g = m.graphs;
  const scale = m.latent.scale;
  const zIn = bufs.zIn.data as Float32Array;
  if (p.mode === 'autoencoder') {
    zIn.set(bufs.mean.data as Float32Array);
  } else {
    for (let i = 0; i < B; i++) {
      const z = frameView(bufs.z, i, L);
      const d = Math.floor(i / framesPerDraw);
      const e1 = n1.subarray(d * L, (d + 1) * L);
      const e2 = n2.subarray(d * L, (d + 1) * L);
      posteriorSample(frameView(bufs.mean, i, L), frameView(bufs.logvar, i, L), e1, scale, z);
      if (trace && i === 0) trace('z0', z.slice());
      qSample(z, e2, alphasCumprod[p.startStep], z);
      if (trace && i === 0) trace('zS', z.slice());
    }
    const taus = ddimTimesteps(p.startStep, p.steps, alphasCumprod.length);
    const dn = g.denoiser;
    for (let k = 0; k < taus.length; k++) {
      const tau = taus[k];
      const prev = k + 1 < taus.length ? alphasCumprod[taus[k + 1]] : alphasCumprod[0];
      setTimestep(bufs.t, tau);
      await clock.graph(
        sessions.denoiser,
        { [dn.inputs[0].name]: bufs.z, [dn.inputs[1].name]: bufs.t, [dn.inputs[2].name]: bufs.x },
        { [dn.outputs[0].name]: bufs.eps },
      );
      const z = bufs.z.data as Float32Array;
      ddimStep(z, bufs.eps.data as Float32Array, alphasCumprod[tau], prev, z);
      if (trace) {
        // Numbered by the timestep index as golden/ does: τ_k, so the first call is k = N−1.
        const idx = taus.length - 1 - k;
        trace(`eps_${idx}`, frameView(bufs.eps, 0, L).slice());
        trace(`z_${idx}`, frameView(bufs.z, 0, L).slice());
      }
    }
    const z = bufs.z.data as Float32Array;
    for (let i = 0; i < z.length; i++) zIn[i] = z[i] / scale;
  }
  clock.mark('denoise');

  await clock.graph(
    sessions.decoder,
    { [g.decoder.inputs[0].name]: bufs.zIn },
    { [g.decoder.outputs[0].name]: bufs.recon },
  );
  clock.mark('decode_latent');
  if (trace) trace('recon', frameView(bufs.recon, 0, bufs.imageSize).slice());
}

/** Sets every tensor's batch axis to n (n <= the buffers' batch), for a final partial batch. */
export function narrowBuffers(bufs: RunBuffers, n: number): RunBuffers {
  if (n === bufs.batch) return bufs;
  const narrow = (t: HostTensor): HostTensor => {
    const per = t.data.length / bufs.batch;
    return { ...withBatch(t, n), data: t.data.subarray(0, per * n) as HostTensor['data'] };
  };
  return {
    ...bufs,
    batch: n,
    x: narrow(bufs.x),
    mean: narrow(bufs.mean),
    logvar: narrow(bufs.logvar),
    z: narrow(bufs.z),
    eps: narrow(bufs.eps),
    zIn: narrow(bufs.zIn),
    t: narrow(bufs.t),
    recon: narrow(bufs.recon),
    layers: bufs.layers.map((l) => ({ ...l, ofInput: narrow(l.ofInput), ofRecon: narrow(l.ofRecon) })),
  };
}
