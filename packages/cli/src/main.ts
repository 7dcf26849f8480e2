#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run } from './run.js';

/** `diad` entry point (the npm bin in bin/diad.js calls it); resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv, { stdout: process.stdout, stderr: process.stderr });
  } catch (err) {
    process.stderr.write(`diad: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

const invokedDirectly = (() => {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
