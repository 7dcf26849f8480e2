import { readFileSync } from 'node:fs';
import { type Io, UsageError } from './args.js';
import { synthCommand } from './commands/synth.js';

export const USAGE = `Usage: diad <command> [options]

Commands:
  synth     write a deterministic synthetic inspection dataset (MVTec layout)
  eval      evaluate a model bundle on a dataset: the paper's tables, plots, calibration
  inspect   run a bundle on images
  doctor    check which execution providers (TensorRT, CUDA, WebGPU, CPU) work on this machine, and why not

Run "diad <command> --help" for the options of a command; "diad --version" prints the version.
`;

/** The version in this package's package.json (one folder above both src/ and dist/). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const EXPECTED_ERRORS = new Set(['DatasetLayoutError', 'BundleError', 'ImageDecodeError']);

type Command = (argv: string[], io: Io) => Promise<number>;

// The model runtime is imported when a command needs it, so the other commands start without ONNX Runtime loaded.
async function loadInspect(): Promise<Command> {
  return (await import('@diad/pipeline')).inspectCommand;
}

async function loadDoctor(): Promise<Command> {
  return (await import('@diad/pipeline')).doctorCommand;
}

async function loadEval(): Promise<Command> {
  const mod = await import('./commands/eval.js');
  return mod.evalCommand;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  synth: async () => synthCommand,
  eval: loadEval,
  inspect: loadInspect,
  doctor: loadDoctor,
};

/** Runs the `diad` command line; returns the process exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    io.stdout.write(`diad ${version()}\n`);
    return 0;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  if (!name) {
    io.stderr.write(`diad: missing command\n\n${USAGE}`);
    return 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(
      `diad: unknown ${name.startsWith('-') ? 'option' : 'command'} "${name}" (see diad --help)\n`,
    );
    return 2;
  }
  try {
    const command = await load();
    return await command(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`diad ${name}: ${(err as Error).message}\n`);
      return 2;
    }
    // problems with the user's files: the message says what and where, a stack trace adds nothing
    if (err instanceof Error && EXPECTED_ERRORS.has(err.name)) {
      io.stderr.write(`diad ${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
