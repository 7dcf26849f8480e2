import { z } from 'zod';

/** Executable form of docs/bundle.md. Reading a manifest needs no ONNX Runtime. */

const semver = z
  .string()
  .regex(
    /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/,
    'expected a semantic version like 1.2.3',
  );
/** Upper bound on sampler.draws: each draw costs one full reconstruction per frame. */
export const MAX_DRAWS = 64;

export const modelName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected lowercase letters, digits, ".", "_" or "-", at most 64');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');

const dim = z.union([z.number().int().positive(), z.string().min(1)]);
export const TensorSpec = z.object({
  name: z.string().min(1),
  shape: z.array(dim),
  dtype: z.enum(['float32', 'int64', 'float16', 'int32']),
});
export type TensorSpec = z.infer<typeof TensorSpec>;

export const GraphSpec = z.object({
  file: z.string().regex(/^[A-Za-z0-9._/-]+\.onnx$/, 'expected a relative .onnx path'),
  opset: z.number().int().min(7).max(30),
  inputs: z.array(TensorSpec).min(1),
  outputs: z.array(TensorSpec).min(1),
  /** Precision inside the graph (inputs/outputs follow `dtype`); absent = fp32. `export --precision fp16` sets it. */
  precision: z.enum(['fp32', 'fp16']).optional(),
});
export type GraphSpec = z.infer<typeof GraphSpec>;

export const GRAPH_NAMES = ['encoder', 'denoiser', 'decoder', 'features'] as const;
export type GraphName = (typeof GRAPH_NAMES)[number];

export const NormalScoreStats = z.object({
  count: z.number().int().nonnegative(),
  mean: z.number(),
  std: z.number().nonnegative(),
  p50: z.number(),
  p95: z.number(),
  p99: z.number(),
  max: z.number(),
});

/**
 * Graphs compiled ahead of time for one execution provider (docs/bundle.md, "Variants"): for example TensorRT
 * EP-context graphs with engines embedded, valid only for one GPU compute capability and TensorRT version. A
 * variant may replace any subset of the four graphs; the rest run from the plain graphs.
 */
export const BundleVariant = z.object({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected lowercase letters, digits, ".", "_" or "-"'),
  provider: z.enum(['tensorrt', 'cuda', 'webgpu']),
  precision: z.enum(['fp32', 'fp16']),
  computeCapability: z
    .string()
    .regex(/^\d+\.\d+$/, 'expected a compute capability like 8.9')
    .optional(),
  tensorrtVersion: z
    .string()
    .regex(/^\d+(\.\d+){1,3}$/, 'expected a version like 10.3.0')
    .optional(),
  onnxruntimeVersion: z.string().optional(),
  graphs: z
    .object({
      encoder: GraphSpec.optional(),
      denoiser: GraphSpec.optional(),
      decoder: GraphSpec.optional(),
      features: GraphSpec.optional(),
    })
    .refine((g) => Object.values(g).some(Boolean), 'expected at least one graph'),
});
export type BundleVariant = z.infer<typeof BundleVariant>;

export const BundleManifest = z.object({
  format: z.literal('diad-bundle'),
  formatVersion: z.literal(1),
  model: z.object({
    name: modelName,
    version: semver,
    created: z.string().datetime({ offset: true }),
    description: z.string().optional(),
  }),
  source: z.record(z.string(), z.unknown()).default({}),
  input: z.object({
    width: z.number().int().positive().max(8192),
    height: z.number().int().positive().max(8192),
    channels: z.literal(3),
    channelOrder: z.enum(['RGB', 'BGR']),
    mean: z.array(z.number()).length(3),
    std: z.array(z.number().positive()).length(3),
    resize: z.enum(['bilinear', 'bicubic', 'nearest', 'lanczos3']).default('bilinear'),
  }),
  latent: z.object({
    channels: z.number().int().positive(),
    height: z.number().int().positive(),
    width: z.number().int().positive(),
    scale: z.number().positive(),
  }),
  schedule: z.object({
    type: z.enum(['scaled_linear', 'linear']),
    betaStart: z.number().positive().lt(1),
    betaEnd: z.number().positive().lt(1),
    trainSteps: z.number().int().min(2).max(100_000),
  }),
  sampler: z.object({
    type: z.literal('ddim'),
    eta: z.literal(0),
    startStep: z.number().int().nonnegative(),
    steps: z.number().int().positive(),
    /** Reconstructions per frame whose raw maps are averaged; absent in bundles from before this field. */
    draws: z.number().int().min(1).max(MAX_DRAWS).default(1),
  }),
  graphs: z.object({
    encoder: GraphSpec,
    denoiser: GraphSpec,
    decoder: GraphSpec,
    features: GraphSpec,
  }),
  features: z.object({
    network: z.string().min(1),
    layers: z.array(z.string()).min(1),
    weightsSource: z.string().optional(),
    /** The feature weights the bundle was exported (and calibrated) with: where they came from, file and sha256. */
    weights: z
      .object({ origin: z.string(), file: z.string().optional(), sha256: sha256.optional() })
      .optional(),
  }),
  scoring: z.object({
    mapWidth: z.number().int().positive(),
    mapHeight: z.number().int().positive(),
    upsample: z.literal('bilinear-align-corners'),
    sigma: z.number().nonnegative(),
    truncate: z.number().positive().default(4),
    poolKernel: z.number().int().positive(),
    poolRounds: z.number().int().nonnegative(),
  }),
  calibration: z.object({
    normalScores: NormalScoreStats.optional(),
    imageThreshold: z.number(),
    pixelThreshold: z.number(),
    notes: z.string().optional(),
  }),
  files: z.record(
    z.string().regex(/^[A-Za-z0-9._/-]+$/, 'expected a relative path'),
    z.object({ sha256, bytes: z.number().int().nonnegative() }),
  ),
  variants: z.array(BundleVariant).max(32).optional(),
});
export type BundleManifest = z.infer<typeof BundleManifest>;

/** Parses a manifest; the error names the key path that failed. */
export function parseManifest(json: unknown): BundleManifest {
  const r = BundleManifest.safeParse(json);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new TypeError(`manifest.json: ${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  const m = r.data;
  if (m.sampler.startStep >= m.schedule.trainSteps) {
    throw new RangeError(
      `manifest.json: sampler.startStep: expected < schedule.trainSteps (${m.schedule.trainSteps}), got ${m.sampler.startStep}`,
    );
  }
  if (m.sampler.steps > m.sampler.startStep + 1) {
    throw new RangeError(
      `manifest.json: sampler.steps: expected at most startStep + 1, got ${m.sampler.steps}`,
    );
  }
  for (const g of GRAPH_NAMES) {
    if (!m.files[m.graphs[g].file]) {
      throw new TypeError(`manifest.json: graphs.${g}.file: "${m.graphs[g].file}" is not listed in files`);
    }
  }
  const names = new Set<string>();
  for (const [i, v] of (m.variants ?? []).entries()) {
    if (names.has(v.name))
      throw new TypeError(`manifest.json: variants.${i}.name: "${v.name}" is used twice`);
    names.add(v.name);
    for (const g of GRAPH_NAMES) {
      const spec = v.graphs[g];
      if (spec && !m.files[spec.file]) {
        throw new TypeError(
          `manifest.json: variants.${i}.graphs.${g}.file: "${spec.file}" is not listed in files`,
        );
      }
    }
  }
  return m;
}
