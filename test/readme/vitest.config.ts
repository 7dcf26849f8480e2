import { defineConfig } from 'vitest/config';

// `npm run test:readme`: runs the README's commands (minutes; kept out of `npm test`). The commands run as child
// processes, so no source conditions are needed here.
export default defineConfig({
  test: {
    include: ['test/readme/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
