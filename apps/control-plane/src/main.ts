#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, configFromEnv, ENV_KEYS } from './config.js';
import { createControlPlane } from './control-plane.js';

const USAGE = `Usage: diad-control-plane [--help] [--version]

Starts the control plane (HTTP API, dashboard, MQTT ingestion, rollouts). It is configured through the
environment; JWT_SECRET (at least 32 characters) is required. With DATABASE_URL it uses PostgreSQL, otherwise the
embedded PGlite database in DATA_DIR. DIAD_ADMIN_PASSWORD creates the first admin on an empty database.

Environment variables: ${Object.keys(ENV_KEYS).join(', ')}.
See apps/control-plane/README.md for each one.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** `diad-control-plane` entry point: resolves to the exit code once SIGINT/SIGTERM has stopped the server. */
export async function main(argv: string[]): Promise<number> {
  let values: { help?: boolean; version?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } },
    }));
  } catch (e) {
    process.stderr.write(`diad-control-plane: ${(e as Error).message} (see diad-control-plane --help)\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`diad-control-plane ${version()}\n`);
    return 0;
  }
  let config: ReturnType<typeof configFromEnv>;
  try {
    config = configFromEnv();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`diad-control-plane: ${e.message}\n`);
    return 2;
  }
  const cp = await createControlPlane(config);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await cp.close();
  return 0;
}

const invokedDirectly = (() => {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`diad-control-plane: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
