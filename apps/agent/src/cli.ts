#!/usr/bin/env node
import { Agent } from './app.js';
import { ConfigError, loadConfig } from './config.js';

const USAGE = `usage: diad-agent run --config agent.yaml
       diad-agent check --config agent.yaml   (validate the config and exit)`;

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
    return 0;
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

const invokedDirectly = process.argv[1] && /cli\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`diad-agent: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
