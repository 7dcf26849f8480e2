import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver: an S3-protocol server on the filesystem that checks SigV4 signatures against its one key pair.
import S3rver from 's3rver';

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' };

/** Starts s3rver on a free loopback port with the given buckets; close() stops it and deletes its folder. */
export async function startS3Server(buckets: string[]) {
  const directory = mkdtempSync(join(tmpdir(), 'diad-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const address = await server.run();
  return {
    url: `http://127.0.0.1:${address.port}`,
    directory,
    close: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
