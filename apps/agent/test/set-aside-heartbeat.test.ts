/**
 * Results set aside reach the fleet view (#20): a result the control plane refuses for good is set aside in the
 * outbox, and the next heartbeat carries how many are set aside and the newest reason.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { makePpm } from '../src/inspector/pnm.js';
import { FakeControlPlane } from './fake-control-plane.js';
import { silent, standInBundle, tmp, waitFor } from './helpers.js';

describe('set-aside results in the heartbeat', () => {
  const cp = new FakeControlPlane();
  let agent: Agent;
  let base: string;

  beforeAll(async () => {
    await cp.start();
    cp.refuseResult = (r) => (r.partId === 'poison-1' ? 'result: partId: refused by the database' : null);
    const dir = tmp();
    agent = await Agent.start(
      parseConfig({
        site: 'site1',
        line: 'line1',
        dataDir: join(dir, 'data'),
        model: { kind: 'standin', bundle: standInBundle(dir) },
        stations: [{ id: 'st1' }],
        mqtt: { enabled: false },
        opcua: { enabled: false },
        http: { host: '127.0.0.1', port: 0 },
        controlPlane: { url: cp.url, enrolToken: 'one-time-token-0123456789', heartbeatMs: 200 },
      }),
      { logger: silent },
    );
    const a = agent.http!.server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(async () => {
    await agent?.stop();
    await cp.close();
  });

  it('reports the count and the newest reason once a result is refused for good', async () => {
    await waitFor(() => cp.heartbeats.length > 0, 10_000, 'first heartbeat');
    expect(cp.heartbeats.at(-1)?.setAside).toEqual({ count: 0, lastReason: null, lastAt: null });
    for (const partId of ['fine-1', 'poison-1', 'fine-2']) {
      const r = await fetch(`${base}/api/v1/frames?station=st1&partId=${partId}`, {
        method: 'POST',
        body: makePpm(8, 8, 20),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(r.status).toBe(200);
    }
    await waitFor(() => (cp.heartbeats.at(-1)?.setAside?.count ?? 0) === 1, 10_000, 'set aside reported');
    const aside = cp.heartbeats.at(-1)?.setAside;
    expect(aside?.lastReason).toMatch(/refused by the database/);
    expect(Date.parse(aside?.lastAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
    await waitFor(() => cp.results.some((r) => r.partId === 'fine-2'), 10_000, 'the others delivered');
  });
});
