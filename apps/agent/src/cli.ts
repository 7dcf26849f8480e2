#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent } from './app.js';
import { ConfigError, loadConfig } from './config.js';

const USAGE = `usage: diad-agent run --config agent.yaml
       diad-agent check --config agent.yaml [--providers]
                 (validate the config and exit; --providers also checks each configured execution provider
                  on this machine and prints why one cannot be used)`;

/** `diad-agent` entry point; returns the exit code (run: only after SIGINT/SIGTERM). */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const i = rest.indexOf('--config');
  const path = i >= 0 ? rest[i + 1] : undefined;
  if ((cmd !== 'run' && cmd !== 'check') || !path) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(path);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`diad-agent: invalid config: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (cmd === 'check') {
    process.stdout.write(`${path}: ok\n`);
    if (!rest.includes('--providers')) return 0;
    const { providerTable } = await import('./inspector/accelerators.js');
    const table = await providerTable(config.model.providers);
    process.stdout.write(table.text);
    return table.ok ? 0 : 1;
  }
  const agent = await Agent.start(config);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await agent.stop();
  return 0;
}

// Run when executed (node cli.js, or through the npm bin symlink), not when imported by tests.
const invokedDirectly = (() => {
  try {
    return (
      !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
})();
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`diad-agent: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
