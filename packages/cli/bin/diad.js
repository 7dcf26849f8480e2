#!/usr/bin/env node
// The npm bin. A committed file rather than the compiled entry point itself, so that `npm ci` on a fresh clone
// links it before the first build; it runs the compiled entry point from dist/.
let entry;
try {
  entry = await import('../dist/main.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('/dist/main.js')) {
    process.stderr.write('diad: not built yet: run "npm run build" in the repository first\n');
    process.exit(1);
  }
  throw err;
}
process.exitCode = await entry.main(process.argv.slice(2));
