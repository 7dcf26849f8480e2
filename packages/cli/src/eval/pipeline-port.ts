import type { BundleManifest } from '@diad/protocol';

/**
 * The part of the @diad/pipeline API (docs: PIPELINE_API.md) that `diad eval` uses. Loaded at run time, so the
 * other commands start without ONNX Runtime and eval fails with a clear message if the runtime is missing.
 */

export type Provider = 'tensorrt' | 'cuda' | 'cpu';

export interface EvalInspectOptions {
  seed?: number;
  steps?: number;
  startStep?: number;
  draws?: number;
  mode?: 'diad' | 'autoencoder';
  keepTensors?: boolean;
}

export interface EvalInspection {
  score: number;
  map: Float32Array;
  mapWidth: number;
  mapHeight: number;
  timingsMs: Record<string, number>;
  input?: Float32Array;
  reconstruction?: Float32Array;
}

export interface EvalPipeline {
  readonly manifest: BundleManifest;
  readonly provider: Provider;
  readonly bundleSha256: string;
  runBatch(frames: string[], opts?: EvalInspectOptions): Promise<EvalInspection[]>;
  close(): Promise<void>;
}

/** Anomaly-map math of the pipeline, so the pixel baseline is blurred and pooled exactly like DiAD's map. */
export interface MapMath {
  blur(map: Float32Array, height: number, width: number, sigma: number, truncate: number): Float32Array;
  poolScore(map: Float32Array, height: number, width: number, kernel: number, rounds: number): number;
  /** Bilinear resize with aligned corners (the pipeline's upsampling of feature maps). */
  resize(src: Float32Array, inH: number, inW: number, outH: number, outW: number): Float32Array;
}

export interface PipelineOpenOptions {
  providers?: Provider[];
  threads?: number;
}

type Fn = (...args: never[]) => unknown;

function need<T extends Fn>(mod: Record<string, unknown>, name: string): T {
  const f = mod[name];
  if (typeof f !== 'function') {
    throw new Error(
      `@diad/pipeline does not export ${name}(); this build of the pipeline is too old for diad eval`,
    );
  }
  return f as T;
}

export async function openPipeline(
  bundle: string,
  opts: PipelineOpenOptions,
): Promise<{ pipeline: EvalPipeline; math: MapMath }> {
  const mod = (await import('@diad/pipeline')) as Record<string, unknown>;
  const DiadPipeline = mod.DiadPipeline as
    | { create?: (b: string, o: object) => Promise<EvalPipeline> }
    | undefined;
  if (!DiadPipeline || typeof DiadPipeline.create !== 'function') {
    throw new Error(
      '@diad/pipeline has no DiadPipeline.create(); this build of the pipeline cannot run diad eval',
    );
  }
  type Plan = object;
  const planGaussianBlur = need<(h: number, w: number, s: number, t: number) => Plan>(
    mod,
    'planGaussianBlur',
  );
  const gaussianBlur = need<(src: Float32Array, plan: Plan, out: Float32Array) => Float32Array>(
    mod,
    'gaussianBlur',
  );
  const planPoolScore = need<(h: number, w: number, k: number, r: number) => Plan>(mod, 'planPoolScore');
  const poolScore = need<(map: Float32Array, plan: Plan) => number>(mod, 'poolScore');
  const planUpsample = need<(ih: number, iw: number, oh: number, ow: number) => Plan>(mod, 'planUpsample');
  const upsample = need<(src: Float32Array, plan: Plan, out: Float32Array) => Float32Array>(
    mod,
    'upsampleBilinearAlignCorners',
  );
  const blurPlans = new Map<string, Plan>();
  const poolPlans = new Map<string, Plan>();
  const upPlans = new Map<string, Plan>();
  const cached = (cache: Map<string, Plan>, key: string, make: () => Plan): Plan => {
    let p = cache.get(key);
    if (!p) {
      p = make();
      cache.set(key, p);
    }
    return p;
  };
  const math: MapMath = {
    blur(map, h, w, sigma, truncate) {
      if (sigma === 0) return Float32Array.from(map);
      const plan = cached(blurPlans, `${h}x${w}:${sigma}:${truncate}`, () =>
        planGaussianBlur(h, w, sigma, truncate),
      );
      return gaussianBlur(map, plan, new Float32Array(h * w));
    },
    poolScore(map, h, w, k, rounds) {
      return poolScore(
        map,
        cached(poolPlans, `${h}x${w}:${k}:${rounds}`, () => planPoolScore(h, w, k, rounds)),
      );
    },
    resize(src, inH, inW, outH, outW) {
      if (inH === outH && inW === outW) return src;
      const plan = cached(upPlans, `${inH}x${inW}>${outH}x${outW}`, () => planUpsample(inH, inW, outH, outW));
      return upsample(src, plan, new Float32Array(outH * outW));
    },
  };
  const pipeline = await DiadPipeline.create(bundle, { providers: opts.providers, threads: opts.threads });
  return { pipeline, math };
}
