import { createHash } from 'node:crypto';
import { packTar } from '@diad/protocol/tar';

/** An archive of the given files, written by the repo's one tar module. */
export function makeTar(files: Array<{ path: string; data: Buffer | string }>): Promise<Buffer> {
  return packTar(files.map((f) => ({ name: f.path, data: f.data })));
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
