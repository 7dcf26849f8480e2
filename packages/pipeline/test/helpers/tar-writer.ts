/**
 * Archives for tests: honest ones from the repo's one tar writer (@diad/protocol/tar), deliberately unsafe ones
 * (links, escaping names) from the hostile-corpus header writer beside the tar module's tests.
 */
import { packTar, safeTarPath } from '@diad/protocol/tar';
import { END, rawEntry } from '../../../protocol/test/hostile-tars.js';

export interface TarItem {
  name: string;
  data?: Uint8Array;
  type?: '0' | '5' | '2';
  linkname?: string;
}

function honest(it: TarItem): boolean {
  if (it.type === '2') return false;
  try {
    safeTarPath(it.name);
    return true;
  } catch {
    return false;
  }
}

export async function makeTar(items: TarItem[]): Promise<Buffer> {
  if (items.every(honest)) {
    return packTar(
      items.map((it) => ({
        name: it.name,
        data: it.type === '5' ? undefined : (it.data ?? new Uint8Array(0)),
      })),
    );
  }
  return Buffer.concat([
    ...items.map((it) =>
      rawEntry(
        { name: it.name, type: it.type ?? '0', linkname: it.linkname },
        Buffer.from(it.data ?? new Uint8Array(0)),
      ),
    ),
    END,
  ]);
}
