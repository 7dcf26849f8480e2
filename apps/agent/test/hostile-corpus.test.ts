/**
 * The security walk on the agent: the shared hostile corpus (packages/protocol/test/hostile-corpus.ts) sent to a
 * real agent's frame endpoint (corrupt images, hostile query values, forged tokens), its hot folder (corrupt
 * images under hostile names) and every OPC UA method it exposes (found by browsing, so a new method is walked
 * too; hostile strings, wrong types, missing and extra arguments). Each answer is checked: a refusal or an error
 * result with a reason, never a 5xx or a crash; the agent still inspects a good frame afterwards.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { hasUnsafeText, type InspectionResult } from '@diad/protocol';
import {
  BrowseDirection,
  type ClientSession,
  DataType,
  MessageSecurityMode,
  NodeClass,
  type NodeId,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  type Variant,
} from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  corruptImages,
  forgedTokens,
  hostileStrings,
} from '../../../packages/protocol/test/hostile-corpus.js';
import { Agent } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { makePpm } from '../src/inspector/pnm.js';
import { silent, standInBundle, tmp, waitFor } from './helpers.js';

const TOKEN = 'frame-token-for-the-hostile-walk';

/** A port free on loopback now (OPC UA needs a fixed port in its configuration). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('hostile corpus through every interface of the agent', () => {
  let agent: Agent;
  let base: string;
  let folder: string;

  beforeAll(async () => {
    const dir = tmp();
    folder = join(dir, 'incoming');
    const config = parseConfig({
      site: 'site1',
      line: 'line1',
      deviceId: 'edge-1',
      dataDir: join(dir, 'data'),
      model: { kind: 'standin', bundle: standInBundle(dir) },
      stations: [{ id: 'st1' }],
      mqtt: { embeddedBroker: { enabled: true, port: 0 } },
      opcua: {
        enabled: true,
        port: await freePort(),
        securityModes: ['None'],
        allowAnonymous: true,
        pkiDir: join(dir, 'pki'),
        samplingIntervalMs: 20,
      },
      http: { host: '127.0.0.1', port: 0, frameToken: TOKEN },
      sources: { hotFolders: [{ path: folder, station: 'st1', pollMs: 50, settleMs: 0 }] },
    });
    agent = await Agent.start(config, { logger: silent });
    const a = agent.http!.server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(async () => {
    await agent?.stop();
  });

  const post = (query: string, body: Uint8Array | string, token: string | null = TOKEN) =>
    fetch(`${base}/api/v1/frames?${query}`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/octet-stream',
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
    });

  const stillWorks = async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ok = await post(`station=st1&partId=good-${Date.now()}`, makePpm(16, 16, 30));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as InspectionResult).state).toBe('ok');
  };

  it('frame endpoint: corrupt images give an error result with a reason; hostile names a 400; forged tokens a 401', async () => {
    for (const img of corruptImages()) {
      const r = await post(`station=st1&partId=corrupt-${img.id}`, img.bytes);
      if (img.bytes.length === 0) {
        expect(r.status, img.id).toBe(400);
        continue;
      }
      expect(r.status, img.id).toBe(200);
      const result = (await r.json()) as InspectionResult;
      expect(result.state, img.id).toBe('error');
      expect(result.error?.message, img.id).toMatch(/\w{4,}/);
    }
    for (const s of hostileStrings) {
      const v = encodeURIComponent(s.value.replace(/[\ud800-\udfff]/g, '\u0000'));
      for (const key of ['station', 'partId', 'camera', 'category', 'capturedAt']) {
        const q = new URLSearchParams({ station: 'st1', partId: 'p-1' });
        const r = await post(
          `${q.toString().replace(new RegExp(`(^|&)${key}=[^&]*`), '')}&${key}=${v}`,
          makePpm(4, 4, 10),
        );
        expect(r.status, `${key}=${s.id}`).toBeLessThan(500);
        // 431: Node's HTTP parser refuses an oversized URL before the route runs.
        if (r.status !== 200 && r.status !== 431) {
          const body = (await r.json()) as { error: string };
          expect(body.error, `${key}=${s.id}`).toMatch(/^(query \w+|body|frame[ .]\w+)/);
        } else await r.arrayBuffer().catch(() => null);
      }
    }
    for (const f of [...forgedTokens(), { id: 'none', token: null }]) {
      const r = await post('station=st1&partId=forged', makePpm(4, 4, 10), f.token);
      expect(r.status, f.id).toBe(f.id === 'huge' ? 431 : 401);
    }
    await stillWorks();
  });

  it('hot folder: corrupt images are moved to failed/ with an error result; the folder keeps being read', async () => {
    const names: string[] = [];
    for (const img of corruptImages()) {
      if (img.bytes.length === 0) continue;
      const name = `bad-${img.id}-\u0001\u001b[31m.ppm`;
      writeFileSync(join(folder, name), img.bytes);
      names.push(name);
    }
    writeFileSync(join(folder, `${'x'.repeat(200)}.ppm`), makePpm(8, 8, 20));
    await waitFor(
      () => readdirSync(folder).filter((f) => f.endsWith('.ppm')).length === 0,
      20_000,
      'hot folder drained',
    );
    const failed = readdirSync(join(folder, 'failed'));
    for (const n of names) expect(failed, n).toContain(n);
    expect(existsSync(join(folder, 'done', `${'x'.repeat(200)}.ppm`))).toBe(true);
    await stillWorks();
  });

  it('OPC UA: every method, with hostile strings, wrong types, missing and extra arguments, answers without harm', async () => {
    const client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      connectionStrategy: { maxRetry: 1 },
    });
    await client.connect(agent.opcua!.endpointUrl);
    const session: ClientSession = await client.createSession();
    try {
      // Every method under the Objects folder, found by browsing (so new ones are walked too).
      const methods: Array<{ objectId: NodeId; methodId: NodeId; name: string }> = [];
      const seen = new Set<string>();
      const walkNode = async (nodeId: NodeId, depth: number) => {
        if (depth > 6 || seen.has(nodeId.toString())) return;
        seen.add(nodeId.toString());
        const res = await session.browse({
          nodeId,
          browseDirection: BrowseDirection.Forward,
          referenceTypeId: 'HierarchicalReferences',
          includeSubtypes: true,
          nodeClassMask: NodeClass.Object | NodeClass.Method,
          resultMask: 63,
        });
        for (const ref of res.references ?? []) {
          if (ref.nodeId.namespace === 0) continue;
          if (ref.nodeClass === NodeClass.Method)
            methods.push({ objectId: nodeId, methodId: ref.nodeId, name: ref.browseName.name ?? '' });
          else await walkNode(ref.nodeId, depth + 1);
        }
      };
      const objects = await session.browse({
        nodeId: 'ns=0;i=85',
        referenceTypeId: 'Organizes',
        resultMask: 63,
      });
      for (const ref of objects.references ?? [])
        if (ref.nodeId.namespace !== 0) await walkNode(ref.nodeId, 0);
      expect(methods.map((m) => m.name)).toContain('Trigger');

      const argSets: Array<{ id: string; args: Array<Partial<Variant>> }> = [
        { id: 'none', args: [] },
        { id: 'int', args: [{ dataType: DataType.Int32, value: -1 }] },
        { id: 'double', args: [{ dataType: DataType.Double, value: 1e308 }] },
        { id: 'bytes', args: [{ dataType: DataType.ByteString, value: Buffer.from([0, 1, 2]) }] },
        { id: 'extra', args: Array.from({ length: 8 }, () => ({ dataType: DataType.String, value: 'x' })) },
        ...hostileStrings.map((s) => ({
          id: `string:${s.id}`,
          args: [{ dataType: DataType.String, value: s.value.slice(0, 20_000) }],
        })),
      ];
      let calls = 0;
      const stored: string[] = [];
      agent.inspection.on('result', (r: InspectionResult) => stored.push(r.partId));
      for (const m of methods) {
        for (const a of argSets) {
          const r = await session.call({
            objectId: m.objectId,
            methodId: m.methodId,
            inputArguments: a.args,
          });
          // An answer, Good or Bad, within the call (a hang or a dropped session would throw here).
          expect(r.statusCode, `${m.name} ${a.id}`).toBeDefined();
          calls++;
        }
      }
      expect(calls).toBe(methods.length * argSets.length);
      // Nothing the result schema refuses was stored: every result's part id is safe text of bounded size.
      const queued = stored;
      expect(queued.length).toBeGreaterThan(0);
      for (const p of queued) {
        expect(hasUnsafeText(p), JSON.stringify(p.slice(0, 40))).toBe(false);
        expect(p.length).toBeLessThanOrEqual(128);
      }
      // Still answering reads after the walk.
      const ns = agent.opcua!.namespaceIndex;
      const v = await session.read({ nodeId: `ns=${ns};s=st1.Score`, attributeId: 13 });
      expect(v.statusCode).toBe(StatusCodes.Good);
    } finally {
      await session.close();
      await client.disconnect();
    }
    await stillWorks();
  });
});
