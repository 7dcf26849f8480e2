import { defineConfig } from 'vite';

// A static single-page app: the control plane serves dist/ at "/" and answers the API under /api.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: true },
  server: {
    // `npm run dev -w @diad/dashboard` against a control plane on :8080.
    proxy: { '/api': { target: process.env.DIAD_API ?? 'http://127.0.0.1:8080', changeOrigin: false } },
  },
});
