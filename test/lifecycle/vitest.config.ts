import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../../vitest.config.js';

// `npm run test:lifecycle`: the model lifecycle loop with real training (minutes of CPU), kept out of `npm test`.
export default mergeConfig(
  base,
  defineConfig({
    test: { include: ['test/lifecycle/**/*.test.ts'], testTimeout: 900_000, hookTimeout: 300_000 },
  }),
);
