import type { Io } from '../args.js';

export async function evalCommand(_argv: string[], io: Io): Promise<number> {
  io.stderr.write('diad eval: not implemented yet\n');
  return 1;
}
