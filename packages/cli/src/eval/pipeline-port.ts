import type { DiadPipeline, InspectOptions, Provider } from '@diad/pipeline';

/**
 * The part of @diad/pipeline that `diad eval` uses. The module is imported at run time (openPipeline), so the
 * other commands start without ONNX Runtime loaded.
 */
export type { Provider };

export type EvalInspectOptions = Pick<
  InspectOptions,
  'seed' | 'steps' | 'startStep' | 'draws' | 'mode' | 'keepTensors'
>;

export type EvalPipeline = Pick<
  DiadPipeline,
  'manifest' | 'provider' | 'bundleSha256' | 'runBatch' | 'close'
>;
export type EvalInspection = Awaited<ReturnType<EvalPipeline['runBatch']>>[number];

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

export async function openPipeline(
  bundle: string,
  opts: PipelineOpenOptions,
): Promise<{ pipeline: EvalPipeline; math: MapMath }> {
  const {
    DiadPipeline,
    planGaussianBlur,
    gaussianBlur,
    planPoolScore,
    poolScore,
    planUpsample,
    upsampleBilinearAlignCorners: upsample,
  } = await import('@diad/pipeline');
  const blurPlans = new Map<string, ReturnType<typeof planGaussianBlur>>();
  const poolPlans = new Map<string, ReturnType<typeof planPoolScore>>();
  const upPlans = new Map<string, ReturnType<typeof planUpsample>>();
  const cached = <Plan>(cache: Map<string, Plan>, key: string, make: () => Plan): Plan => {
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
