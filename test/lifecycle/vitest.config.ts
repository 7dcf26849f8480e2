import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.js';

// `npm run test:lifecycle`: the model lifecycle loop with real training (minutes of CPU), kept out of `npm test`.
// (mergeConfig would append to the base include list; this suite replaces it.)
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/lifecycle/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
  },
});
