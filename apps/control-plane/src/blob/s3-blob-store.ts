import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type BlobStore, checkKey } from './blob-store.js';
import { amzDate, encodeSegment, signV4 } from './sigv4.js';

export interface S3Options {
  /** e.g. https://s3.eu-central-1.amazonaws.com or http://127.0.0.1:9000 (MinIO); path-style addressing. */
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Where uploads are spooled before the PUT (S3 needs the length up front). */
  spoolDir?: string;
}

/**
 * An S3-compatible blob store (AWS S3, MinIO, Ceph RGW...) over plain HTTP with SigV4 signing. Objects are
 * written with one PUT (up to 5 GiB), after spooling to a local file so the length is known.
 */
export class S3BlobStore implements BlobStore {
  private readonly base: URL;

  constructor(private readonly o: S3Options) {
    this.base = new URL(o.endpoint);
    if (!/^https?:$/.test(this.base.protocol)) throw new TypeError('s3 endpoint: expected an http(s) URL');
  }

  async put(key: string, body: Readable): Promise<{ bytes: number }> {
    checkKey(key);
    const spool = join(this.o.spoolDir ?? tmpdir(), `diad-s3-${randomUUID()}`);
    try {
      await pipeline(body, createWriteStream(spool));
      const { size } = await stat(spool);
      const res = await this.request('PUT', key, { 'content-length': String(size) }, createReadStream(spool));
      await expectOk(res, `PUT ${key}`);
      return { bytes: size };
    } finally {
      await rm(spool, { force: true });
    }
  }

  async get(key: string): Promise<{ stream: Readable; bytes: number } | null> {
    const res = await this.request('GET', checkKey(key), {});
    if (res.statusCode === 404) {
      res.resume();
      return null;
    }
    if (res.statusCode !== 200) await expectOk(res, `GET ${key}`);
    return { stream: res, bytes: Number(res.headers['content-length'] ?? 0) };
  }

  async delete(key: string): Promise<void> {
    const res = await this.request('DELETE', checkKey(key), {});
    if (res.statusCode !== 404) await expectOk(res, `DELETE ${key}`);
    else res.resume();
  }

  private request(
    method: string,
    key: string,
    extra: Record<string, string>,
    body?: Readable,
  ): Promise<http.IncomingMessage> {
    const path = `${this.base.pathname.replace(/\/$/, '')}/${encodeSegment(this.o.bucket)}/${key.split('/').map(encodeSegment).join('/')}`;
    const headers: Record<string, string> = {
      ...extra,
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'x-amz-date': amzDate(new Date()),
    };
    headers.authorization = signV4(
      {
        method,
        host: this.base.host,
        path,
        headers: { ...headers },
        payloadHash: 'UNSIGNED-PAYLOAD',
        amzDate: headers['x-amz-date'],
      },
      {
        accessKeyId: this.o.accessKeyId,
        secretAccessKey: this.o.secretAccessKey,
        region: this.o.region,
        service: 's3',
      },
    );
    const mod = this.base.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        { method, host: this.base.hostname, port: this.base.port || undefined, path, headers },
        resolve,
      );
      req.on('error', (e) => reject(new Error(`s3 ${method} ${key}: ${e.message}`)));
      if (body) {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      } else req.end();
    });
  }
}

async function expectOk(res: http.IncomingMessage, what: string): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    const code = /<Code>([^<]+)<\/Code>/.exec(Buffer.concat(chunks).toString('utf8'))?.[1] ?? 'error';
    throw new Error(`s3 ${what}: HTTP ${status} ${code}`);
  }
}
