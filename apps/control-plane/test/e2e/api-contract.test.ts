import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Controller, Get, type INestApplication, Module } from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory, Reflector } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ResponseCheck, Returns, zodDto } from '../../src/common/dto.js';
import { createLogger } from '../../src/common/logger.js';
import { Metrics } from '../../src/common/metrics.js';
import { buildOpenApiDocument } from '../../src/openapi-document.js';
import { ADMIN_PASSWORD, client, type Harness, startHarness } from '../helpers/harness.js';

type Operation = {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
};

describe('OpenAPI document', () => {
  let doc: Awaited<ReturnType<typeof buildOpenApiDocument>>;
  beforeAll(async () => {
    doc = await buildOpenApiDocument();
  });

  it('declares a response schema for every route', () => {
    const missing: string[] = [];
    let routes = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item as Record<string, Operation>)) {
        routes++;
        const ok = Object.entries(op.responses ?? {}).filter(([status]) => /^2\d\d$/.test(status));
        const described = ok.some(([, r]) => Object.values(r.content ?? {}).some((c) => c.schema));
        if (!described) missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(routes).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });

  it('documents JSON request bodies with their schema', () => {
    const login = (doc.paths['/api/v1/auth/login'] as Record<string, Operation>).post;
    const schema = login.requestBody?.content?.['application/json']?.schema as { $ref?: string };
    expect(schema?.$ref).toBeDefined();
    const name = schema.$ref!.split('/').pop()!;
    expect(doc.components?.schemas?.[name]).toMatchObject({ required: ['username', 'password'] });
  });

  it('documents a nullable field as nullable, not as an array', () => {
    const s = doc.components?.schemas?.AuditPageDto_Output as { properties: Record<string, unknown> };
    expect(s.properties.nextCursor).toEqual({ anyOf: [{ type: 'string' }, { type: 'null' }] });
  });

  it('is the committed openapi.json (run `npm run openapi` after changing the API)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8'));
    expect(JSON.parse(JSON.stringify(doc))).toEqual(committed);
  });
});

describe('request validation through the DTOs', () => {
  let h: Harness;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    h = await startHarness('pglite');
    const login = await client(h.cp.url).post('/api/v1/auth/login', {
      username: 'admin',
      password: ADMIN_PASSWORD,
    });
    api = client(h.cp.url, login.body.token);
  });
  afterAll(() => h?.close());

  it('answers 400 naming the body field', async () => {
    const r = await api.post('/api/v1/sites', { code: 'bad code!', name: 'x' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/^body\.code: /);
    expect(r.body.issues[0].path).toBe('body.code');
  });

  it('answers 400 for an unknown body key (strict schemas stay strict)', async () => {
    const r = await api.post('/api/v1/sites', { code: 'S1', name: 'x', extra: 1 });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/^body: .*extra/);
  });

  it('answers 400 naming the query parameter', async () => {
    const r = await api.get('/api/v1/audit?limit=0');
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/^query\.limit: /);
  });

  it('answers 400 naming a route parameter', async () => {
    const r = await api.get('/api/v1/devices/not-a-uuid');
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('id: expected a UUID');
  });

  it('passes the parsed body (defaults applied) to the handler and answers the declared shape', async () => {
    const site = await api.post('/api/v1/sites', { code: 'S1', name: 'Site 1' });
    expect(site.status).toBe(201);
    expect(site.body).toMatchObject({ code: 'S1', name: 'Site 1' });
    const audit = await api.get('/api/v1/audit?entityType=site');
    expect(audit.status).toBe(200);
    expect(audit.body.items[0]).toMatchObject({ action: 'site.create', entityId: site.body.id });
  });
});

describe.each(['reject', 'log'] as const)('response check (%s)', (mode) => {
  const Shape = z.object({ count: z.number().int() });
  class ShapeDto extends zodDto(Shape) {}
  const metrics = new Metrics();

  // Decorators applied by hand: the test sources are compiled without TypeScript's decorator syntax.
  class Probe {
    good() {
      return { count: 3, extra: 'kept' };
    }
    bad() {
      return { count: 'three' };
    }
  }
  Controller()(Probe);
  for (const name of ['good', 'bad'] as const) {
    const d = Object.getOwnPropertyDescriptor(Probe.prototype, name)!;
    Get(name)(Probe.prototype, name, d);
    Returns(ShapeDto)(Probe.prototype, name, d);
  }
  class ProbeModule {}
  Module({
    controllers: [Probe],
    providers: [
      {
        provide: APP_INTERCEPTOR,
        useFactory: (r: Reflector) => new ResponseCheck(r, createLogger('silent'), metrics, mode),
        inject: [Reflector],
      },
    ],
  })(ProbeModule);

  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    app = await NestFactory.create(ProbeModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });
  afterAll(() => app?.close());

  const mismatches = async () =>
    (await metrics.responseSchemaMismatch.get()).values.find((v) => v.labels.route === 'GET /bad')?.value ??
    0;

  it('sends a matching response as the handler returned it', async () => {
    const r = await fetch(`${url}/good`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ count: 3, extra: 'kept' });
    expect(await mismatches()).toBe(0);
  });

  it(mode === 'reject' ? 'answers 500 for a response that does not match' : 'sends it anyway', async () => {
    const r = await fetch(`${url}/bad`);
    expect(r.status).toBe(mode === 'reject' ? 500 : 200);
    if (mode === 'log') expect(await r.json()).toEqual({ count: 'three' });
    expect(await mismatches()).toBe(1);
  });
});
