#!/usr/bin/env node
/** Standalone entry: `node dist/bin.js inspect --bundle … <image…>` (the `diad` CLI lives in packages/cli). */
import { inspectCommand } from './cli/inspect.js';

const [cmd, ...rest] = process.argv.slice(2);
if (cmd !== 'inspect') {
  process.stderr.write('usage: diad-pipeline inspect --bundle <dir|tar> [options] <image…>\n');
  process.exit(2);
}
process.exitCode = await inspectCommand(rest, { stdout: process.stdout, stderr: process.stderr });
