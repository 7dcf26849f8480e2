export { SYNTH_CATEGORIES, synthCategory } from './categories/index.js';
export type { SynthOptions, SynthSummary } from './generate.js';
export { encodePng, generateSynthDataset, planSynthDataset, SYNTH_FORMAT_VERSION } from './generate.js';
export type { RenderedSample, SampleRequest, SynthSplit } from './render.js';
export { renderSample } from './render.js';
export { hashSeed, Rng } from './rng.js';
export type { CategorySpec, DefectSpec, Tier } from './types.js';
export { TIERS } from './types.js';
