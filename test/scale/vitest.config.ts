import { defineConfig } from 'vitest/config';

// `npm run test:scale`: the fleet scale-out test (real processes; minutes). Not part of `npm test`.
const conditions = ['@diad/source', 'node', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@diad/source'] } },
  test: {
    include: ['test/scale/**/*.test.ts'],
    testTimeout: 480_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
