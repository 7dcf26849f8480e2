import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import {
  agentApi,
  DesiredState,
  EnrolRequest,
  EnrolResponse,
  type Heartbeat,
  type InspectionResult,
} from '@diad/protocol';
import type { z } from 'zod';

export class ControlPlaneError extends Error {
  override name = 'ControlPlaneError';
  constructor(
    message: string,
    readonly status?: number,
    /** The parsed JSON body of a 4xx answer, when it had one. */
    readonly body?: unknown,
    /** Set when it is known whether repeating the call may help (no answer: yes); see retry.ts. */
    readonly transient?: boolean,
  ) {
    super(message);
  }
}

/** HTTP client for the agent side of agentApi (paths in @diad/protocol). */
export class ControlPlaneClient {
  private readonly base: string;
  constructor(
    baseUrl: string,
    private readonly timeoutMs = 15_000,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  async enrol(req: EnrolRequest): Promise<EnrolResponse> {
    return this.json(agentApi.enrol, { method: 'POST', body: EnrolRequest.parse(req) }, EnrolResponse);
  }

  async heartbeat(credential: string, hb: Heartbeat): Promise<void> {
    await this.request(agentApi.heartbeat, { method: 'POST', body: hb, credential });
  }

  async desiredState(credential: string): Promise<DesiredState> {
    return this.json(agentApi.desiredState, { method: 'GET', credential }, DesiredState);
  }

  /** Posts a batch of results (idempotent on resultId at the control plane). */
  /**
   * Posts a batch; resolves with the results the control plane refused one by one (index, status, message). A
   * batch refused as a whole for its results (every one of them refused, HTTP 400/403/422 with `refused`) also
   * resolves, listing them all; any other failure throws.
   */
  async postResults(
    credential: string,
    results: InspectionResult[],
  ): Promise<{ refused?: Array<{ index: number; status: number; message: string }> }> {
    try {
      const res = await this.request(agentApi.results, {
        method: 'POST',
        credential,
        body: { results },
      });
      return ((await res.json().catch(() => ({}))) ?? {}) as { refused?: [] };
    } catch (e) {
      const body = e instanceof ControlPlaneError ? e.body : undefined;
      if (body && Array.isArray((body as { refused?: unknown }).refused)) return body as { refused: [] };
      throw e;
    }
  }

  /** Uploads a result's image or heatmap (control plane: PUT /api/v1/agent/results/:resultId/:kind). */
  async putArtifact(
    credential: string,
    resultId: string,
    kind: 'image' | 'heatmap',
    bytes: Uint8Array,
    contentType: string,
  ) {
    await this.request(`${agentApi.results}/${encodeURIComponent(resultId)}/${kind}`, {
      method: 'PUT',
      credential,
      raw: { body: bytes, contentType },
    });
  }

  /** Streams a bundle to `dest` (via a temp file), returning its sha256 and size. */
  async download(
    credential: string,
    path: string,
    dest: string,
    maxBytes: number,
  ): Promise<{ sha256: string; bytes: number }> {
    const res = await this.request(path, { method: 'GET', credential, timeoutMs: 10 * 60_000 });
    if (!res.body) throw new ControlPlaneError(`GET ${path}: empty body`);
    const hash = createHash('sha256');
    let bytes = 0;
    const tmp = `${dest}.part`;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > maxBytes)
          return cb(new ControlPlaneError(`GET ${path}: bundle larger than announced (${maxBytes} bytes)`));
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(res.body as unknown as WebReadableStream),
        meter,
        createWriteStream(tmp),
      );
      await rename(tmp, dest);
    } catch (e) {
      await rm(tmp, { force: true });
      if (e instanceof ControlPlaneError) throw e;
      // File-system errors name a path (disk full, permissions): repeating the download will not help. Anything
      // else broke the body while it streamed in (connection reset, timeout): worth another try.
      if (e && typeof e === 'object' && 'path' in e) throw e;
      throw new ControlPlaneError(`GET ${path}: ${(e as Error).message}`, undefined, undefined, true);
    }
    return { sha256: hash.digest('hex'), bytes };
  }

  private async json<T extends z.ZodType>(path: string, opts: RequestOpts, schema: T): Promise<z.infer<T>> {
    const res = await this.request(path, opts);
    const text = await res.text().catch((e: Error) => {
      // The connection broke while the answer streamed in (e.g. an enrolment reply lost after the commit).
      throw new ControlPlaneError(`${opts.method} ${path}: ${e.message}`, undefined, undefined, true);
    });
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ControlPlaneError(`${opts.method} ${path}: response is not JSON`);
    }
    const r = schema.safeParse(body);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new ControlPlaneError(`${opts.method} ${path}: response ${i.path.join('.')}: ${i.message}`);
    }
    return r.data;
  }

  private async request(path: string, opts: RequestOpts): Promise<Response> {
    const url = new URL(path.replace(/^\/*/, '/'), `${this.base}/`).toString();
    const headers: Record<string, string> = {};
    if (opts.credential) headers.authorization = `Bearer ${opts.credential}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.raw) headers['content-type'] = opts.raw.contentType;
    let res: Response;
    try {
      res = await fetch(url, {
        method: opts.method,
        headers,
        body: opts.raw ? opts.raw.body : opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs),
      });
    } catch (e) {
      // No answer (timeout, connection refused or reset): the request may or may not have been handled.
      throw new ControlPlaneError(
        `${opts.method} ${path}: ${(e as Error).message}`,
        undefined,
        undefined,
        true,
      );
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let body: unknown;
      try {
        body = res.status >= 400 && res.status < 500 ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      throw new ControlPlaneError(
        `${opts.method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`,
        res.status,
        body,
      );
    }
    return res;
  }
}

interface RequestOpts {
  method: 'GET' | 'POST' | 'PUT';
  raw?: { body: Uint8Array; contentType: string };
  body?: unknown;
  credential?: string;
  timeoutMs?: number;
}
