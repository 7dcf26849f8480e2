import { timingSafeEqual } from 'node:crypto';
import { InspectionResult } from '@diad/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { ZodError } from 'zod';
import type { Frame } from '../frame.js';
import { OutboxFullError } from '../outbox/types.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  site: string;
  line: string;
  registry: Registry;
  /** null = ready; otherwise the reasons the agent is not ready. */
  readiness: () => string[];
  /** When set, POST /api/v1/frames requires `Authorization: Bearer <frameToken>`. */
  frameToken?: string;
  /** Enables POST /api/v1/frames. */
  submit?: (frame: Frame) => Promise<InspectionResult>;
}

export const FRAMES_PATH = '/api/v1/frames';

/** The frame's names, checked with the result schema's own rules before any inference runs. */
const FrameNames = InspectionResult.pick({ station: true, camera: true, partId: true, category: true });

/** /healthz (process up), /readyz (model loaded, outbox accepting), /metrics, and the HTTP frame source. */
export async function createHttpServer(o: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: o.maxBodyBytes });
  app.addContentTypeParser(
    [
      'application/octet-stream',
      'image/png',
      'image/jpeg',
      'image/bmp',
      'image/tiff',
      'image/x-portable-pixmap',
      'image/x-portable-graymap',
    ],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const reasons = o.readiness();
    return reasons.length ? reply.code(503).send({ status: 'not ready', reasons }) : { status: 'ready' };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', o.registry.contentType);
    return o.registry.metrics();
  });

  if (o.submit) {
    const submit = o.submit;
    app.post(FRAMES_PATH, async (req, reply) => {
      if (o.frameToken && !tokenMatches(req.headers.authorization, o.frameToken)) {
        return reply.code(401).send({ error: 'authorization: expected Bearer <http.frameToken>' });
      }
      const q = req.query as Record<string, string | undefined>;
      if (!q.station) return reply.code(400).send({ error: 'query station: required' });
      if (!q.partId) return reply.code(400).send({ error: 'query partId: required' });
      if (!Buffer.isBuffer(req.body) || req.body.length === 0) {
        return reply
          .code(400)
          .send({ error: 'body: expected image bytes (Content-Type image/* or application/octet-stream)' });
      }
      const names = FrameNames.safeParse({
        station: q.station,
        camera: q.camera ?? 'http',
        partId: q.partId,
        category: q.category,
      });
      if (!names.success) {
        const issue = names.error.issues[0];
        return reply.code(400).send({ error: `query ${issue.path.join('.')}: ${issue.message}` });
      }
      const capturedAt = q.capturedAt ? Date.parse(q.capturedAt) : Date.now();
      if (Number.isNaN(capturedAt))
        return reply.code(400).send({ error: 'query capturedAt: expected an ISO 8601 time' });
      try {
        const result = await submit({
          site: o.site,
          line: o.line,
          ...names.data,
          capturedAt,
          image: new Uint8Array(req.body.buffer, req.body.byteOffset, req.body.byteLength),
        });
        return reply.code(200).send(result);
      } catch (e) {
        if (e instanceof OutboxFullError)
          return reply.code(503).header('retry-after', '30').send({ error: e.message });
        if (e instanceof TypeError || e instanceof RangeError)
          return reply.code(400).send({ error: e.message });
        // The result schema refused what the frame carried (a capture time beyond its bounds, say): the caller's
        // input, so a 400 naming the field, not a 500.
        if (e instanceof ZodError) {
          const issue = e.issues[0];
          return reply.code(400).send({ error: `frame ${issue.path.join('.')}: ${issue.message}` });
        }
        throw e;
      }
    });
  }
  await app.listen({ host: o.host, port: o.port });
  return app;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const got = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}
