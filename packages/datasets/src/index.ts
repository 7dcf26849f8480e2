export * from './synth/index.js';
