import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type BlobStore, checkKey } from './blob-store.js';

/** Blobs as files under one folder; written to a temporary name and renamed, so readers never see partial data. */
export class FsBlobStore implements BlobStore {
  constructor(private readonly root: string) {}

  async put(key: string, body: Readable): Promise<{ bytes: number }> {
    const path = join(this.root, checkKey(key));
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomUUID()}.partial`;
    let bytes = 0;
    body.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    try {
      await pipeline(body, createWriteStream(tmp));
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return { bytes };
  }

  async get(key: string): Promise<{ stream: Readable; bytes: number } | null> {
    const path = join(this.root, checkKey(key));
    try {
      const s = await stat(path);
      return { stream: createReadStream(path), bytes: s.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(join(this.root, checkKey(key)), { force: true });
  }
}
