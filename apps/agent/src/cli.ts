#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent } from './app.js';
import { ConfigError, ENV_OVERRIDES, loadConfig } from './config.js';

const USAGE = `Usage: diad-agent <command> --config <agent.yaml>

Commands:
  run            start the agent (stops on SIGINT/SIGTERM)
  check          validate the configuration and exit
  hash-password  print an opcua.users[].passwordHash for the password read from stdin (no --config)

Options:
  --config <file>   the agent's YAML configuration (see deploy/agent.example.yaml)
  --providers       with check: also try each configured execution provider on this machine and print why one
                    cannot be used (exit 1 then)
  -h, --help        this text
  -V, --version     the agent's version

Secrets may come from the environment instead of the file: ${Object.keys(ENV_OVERRIDES).join(', ')}.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** `diad-agent` entry point; returns the exit code (run: only after SIGINT/SIGTERM). */
export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  const parse = (args: string[]) =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        providers: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  try {
    parsed = parse(argv);
  } catch (e) {
    process.stderr.write(`diad-agent: ${(e as Error).message} (see diad-agent --help)\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`diad-agent ${version()}\n`);
    return 0;
  }
  const [cmd, ...extra] = positionals;
  if (cmd === 'hash-password') return hashPasswordCommand();
  const path = values.config;
  const usageError = (msg: string) => {
    process.stderr.write(`diad-agent: ${msg} (see diad-agent --help)\n`);
    return 2;
  };
  if (!cmd) return usageError('missing command: run or check');
  if (cmd !== 'run' && cmd !== 'check') return usageError(`unknown command "${cmd}"`);
  if (extra.length > 0) return usageError(`unexpected argument "${extra[0]}"`);
  if (!path) return usageError('--config <file> is required');
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
    if (!values.providers) return 0;
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

/** Reads a password from stdin and prints its hash for the agent's configuration. */
async function hashPasswordCommand(): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!password) {
    process.stderr.write('diad-agent hash-password: empty password on stdin\n');
    return 2;
  }
  const { hashPassword } = await import('./opcua/passwords.js');
  process.stdout.write(`${hashPassword(password)}\n`);
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
