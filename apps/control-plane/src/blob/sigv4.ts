import { createHash, createHmac } from 'node:crypto';

export interface SigV4Request {
  method: string;
  host: string;
  /** Absolute path, already URI-encoded per segment. */
  path: string;
  /** Header names in lower case; `host` is added. */
  headers: Record<string, string>;
  payloadHash: string;
  /** YYYYMMDDTHHMMSSZ */
  amzDate: string;
}

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
}

const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();
const hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** AWS Signature Version 4 (header form) for requests without a query string. Returns the Authorization value. */
export function signV4(req: SigV4Request, c: SigV4Credentials): string {
  const headers: Record<string, string> = { ...req.headers, host: req.host };
  const names = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .sort();
  const canonicalHeaders = names
    .map((n) => `${n}:${String(headers[n]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [req.method, req.path, '', canonicalHeaders, signedHeaders, req.payloadHash].join(
    '\n',
  );
  const day = req.amzDate.slice(0, 8);
  const scope = `${day}/${c.region}/${c.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', req.amzDate, scope, hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${c.secretAccessKey}`, day), c.region), c.service), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

/** RFC 3986 encoding of one path segment, as S3 expects. */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
