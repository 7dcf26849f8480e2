export type {
  GraphSession,
  HostTensor,
  InferenceBackend,
  Provider,
  SessionConfig,
  ValueInfo,
} from './backend/types.js';
export { PROVIDERS } from './backend/types.js';
export { type LoadBundleOptions, type LoadedBundle, loadBundle, verifyFiles } from './bundle/load-bundle.js';
export { listTar } from './bundle/tar.js';
export {
  type BundleVariant,
  chooseVariant,
  type DeviceFacts,
  graphFiles,
  type VariantChoice,
  variantMismatch,
} from './bundle/variants.js';
export { hasDynamicBatch, verifyGraphIo, verifyManifestGraphs } from './bundle/verify-graphs.js';
export { doctorCommand } from './cli/doctor.js';
export { inspectCommand } from './cli/inspect.js';
export * from './core/blur.js';
export * from './core/cosine.js';
export * from './core/ddim.js';
export * from './core/heatmap.js';
export * from './core/normalize.js';
export * from './core/pool.js';
export * from './core/resize.js';
export * from './core/rng.js';
export * from './core/schedule.js';
export * from './core/score.js';
export * from './core/upsample.js';
export { BundleError, ImageDecodeError } from './errors.js';
export {
  DEFAULT_MAX_INPUT_PIXELS,
  decodeFullRgb,
  decodeToRgb,
  encodePng,
  type FrameInput,
  type RawFrame,
  type RgbImage,
} from './image/decode.js';
export {
  DiadPipeline,
  defaultBackend,
  type InspectionOutput,
  type InspectOptions,
  type PipelineLogger,
  type PipelineOptions,
  type ProviderReport,
} from './pipeline.js';
export { gatherHostFacts, parseLdconfig, parseNvidiaSmi } from './providers/host-facts.js';
export {
  formatProviderTable,
  type ProviderCheck,
  type ProviderStatus,
  probeProviders,
} from './providers/probe.js';
export {
  checkRequirements,
  type GpuInfo,
  type HostFacts,
  ORT_PROVIDER_LIBS,
  SYSTEM_LIBS,
} from './providers/requirements.js';
export { type NoisePair, NonFiniteOutputError } from './run/diad-run.js';
