import { defineConfig } from 'vitest/config';

// Workspace packages export "@diad/source" -> src/*.ts so tests run against sources without a build.
// Vitest hands these conditions to Node for external modules too; "import" or "module" there would make a CJS
// `require` pick a package's ESM build (pg -> pg-pool breaks). Vite adds import/require per import kind itself.
const conditions = ['@diad/source', 'node', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@diad/source'] } },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'test/dashboard/**/*.test.ts',
      'test/system/**/*.test.ts',
      'deploy/test/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
