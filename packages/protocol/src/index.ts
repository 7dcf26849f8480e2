export * from './manifest.js';
export * from './messages.js';
export * from './topics.js';
export * from './ids.js';
