export * from './ids.js';
export * from './logging.js';
export * from './manifest.js';
export * from './messages.js';
export * from './topics.js';
