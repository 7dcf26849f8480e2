export { UsageError } from './args.js';
export { run, USAGE } from './run.js';
