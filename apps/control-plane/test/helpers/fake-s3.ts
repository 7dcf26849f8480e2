import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signV4 } from '../../src/blob/sigv4.js';

/** A minimal S3 endpoint (PUT/GET/DELETE object, path style) that checks every request's SigV4 signature. */
export async function startFakeS3(creds: { accessKeyId: string; secretAccessKey: string; region: string }) {
  const objects = new Map<string, Buffer>();
  let rejected = 0;
  const verify = (req: IncomingMessage) => {
    const auth = String(req.headers.authorization ?? '');
    const signed = /SignedHeaders=([^,]+)/.exec(auth)?.[1].split(';') ?? [];
    const headers: Record<string, string> = {};
    for (const h of signed) if (h !== 'host') headers[h] = String(req.headers[h]);
    const expected = signV4(
      {
        method: req.method!,
        host: String(req.headers.host),
        path: req.url!,
        headers,
        payloadHash: String(req.headers['x-amz-content-sha256']),
        amzDate: String(req.headers['x-amz-date']),
      },
      { ...creds, service: 's3' },
    );
    return auth === expected;
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (!verify(req)) {
      rejected++;
      res.writeHead(403).end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
      return;
    }
    const key = decodeURIComponent(req.url!);
    if (req.method === 'PUT') {
      objects.set(key, Buffer.concat(chunks));
      res.writeHead(200).end();
    } else if (req.method === 'GET') {
      const o = objects.get(key);
      if (!o) res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
      else res.writeHead(200, { 'content-length': String(o.length) }).end(o);
    } else if (req.method === 'DELETE') {
      objects.delete(key);
      res.writeHead(204).end();
    } else res.writeHead(405).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    objects,
    rejected: () => rejected,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
