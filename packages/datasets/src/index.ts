export * from './loaders/index.js';
export * from './synth/index.js';
