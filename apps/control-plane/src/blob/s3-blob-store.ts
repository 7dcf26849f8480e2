import { type Readable, Transform } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type BlobStore, checkKey } from './blob-store.js';

export interface S3Options {
  /** e.g. http://127.0.0.1:9000 (MinIO) with path-style addressing; absent: AWS S3's endpoint for `region`. */
  endpoint?: string;
  region: string;
  bucket: string;
  /**
   * Static keys. Absent: the AWS SDK's default credential chain (AWS_* environment variables, shared config and
   * SSO profiles, web identity / IRSA, ECS task roles, EC2 instance roles), session tokens included.
   */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Bodies up to this size go up in one PUT; larger ones as a multipart upload of parts this size (≥ 5 MiB). */
  partSizeBytes?: number;
  /** Parts uploaded in parallel. */
  queueSize?: number;
  /** Attempts per request (the SDK's standard retry mode: exponential backoff with jitter). */
  maxAttempts?: number;
  connectionTimeoutMs?: number;
  /** Time without data on a socket before a request fails (and is retried). */
  requestTimeoutMs?: number;
}

const MiB = 1024 * 1024;

/**
 * Bundles and result images in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW...) through the AWS SDK:
 * streaming multipart uploads (a failed one is aborted, so no partial object appears), retries and timeouts.
 */
export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  private readonly partSize: number;

  constructor(private readonly o: S3Options) {
    this.partSize = Math.max(5 * MiB, o.partSizeBytes ?? 8 * MiB);
    const credentials =
      o.accessKeyId && o.secretAccessKey
        ? { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey, sessionToken: o.sessionToken }
        : undefined;
    this.client = new S3Client({
      region: o.region,
      endpoint: o.endpoint,
      forcePathStyle: !!o.endpoint,
      credentials,
      maxAttempts: o.maxAttempts ?? 4,
      retryMode: 'standard',
      requestHandler: {
        connectionTimeout: o.connectionTimeoutMs ?? 5_000,
        requestTimeout: o.requestTimeoutMs ?? 60_000,
        throwOnRequestTimeout: true,
      },
      // S3-compatible servers differ in their support of the newer default checksums; send them only when required.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async put(key: string, body: Readable): Promise<{ bytes: number }> {
    checkKey(key);
    let bytes = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    body.on('error', (e) => counted.destroy(e));
    body.pipe(counted);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.o.bucket, Key: key, Body: counted },
      partSize: this.partSize,
      queueSize: this.o.queueSize ?? 4,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (e) {
      throw s3Error('PUT', key, e);
    }
    return { bytes };
  }

  async get(key: string): Promise<{ stream: Readable; bytes: number } | null> {
    checkKey(key);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key }));
      return { stream: r.Body as Readable, bytes: r.ContentLength ?? 0 };
    } catch (e) {
      if (e instanceof S3ServiceException && (e.name === 'NoSuchKey' || e.$metadata.httpStatusCode === 404)) {
        return null;
      }
      throw s3Error('GET', key, e);
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: key }));
    } catch (e) {
      if (e instanceof S3ServiceException && e.$metadata.httpStatusCode === 404) return;
      throw s3Error('DELETE', key, e);
    }
  }
}

function s3Error(op: string, key: string, e: unknown): Error {
  const err = e as Error & { $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  return new Error(`s3 ${op} ${key}: ${status ? `HTTP ${status} ` : ''}${err.name}: ${err.message}`, {
    cause: e,
  });
}
