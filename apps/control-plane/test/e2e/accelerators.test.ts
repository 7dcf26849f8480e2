import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedAgent } from '../helpers/agent.js';
import {
  BACKENDS,
  type Client,
  client,
  type Harness,
  login,
  makeFleet,
  startHarness,
} from '../helpers/harness.js';

describe.each(BACKENDS)('execution providers in the fleet view on $name', ({ name }) => {
  let h: Harness;
  let admin: Client;
  let fleet: Awaited<ReturnType<typeof makeFleet>>;

  beforeAll(async () => {
    h = await startHarness(name);
    admin = client(h.cp.url, await login(h.cp.url));
    fleet = await makeFleet(admin, ['st1']);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("stores each device's provider check from its heartbeat, keeps it when an older agent omits it", async () => {
    const t = await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id });
    const a = new ScriptedAgent(h.cp.url);
    await a.enrol(t.body.token, 'gpu-box');
    const accelerators = {
      checks: [
        {
          provider: 'tensorrt' as const,
          status: 'unavailable' as const,
          reason: 'system libraries not found: libnvinfer.so.10',
        },
        { provider: 'cuda' as const, status: 'ok' as const },
        { provider: 'cpu' as const, status: 'ok' as const },
      ],
      gpu: 'NVIDIA L4 (sm 8.9)',
      variant: null,
    };
    await a.heartbeat([], { provider: 'cuda', accelerators });
    const mine = async () =>
      (
        (await admin.get(`/api/v1/devices?lineId=${fleet.line.id}`)).body as Array<Record<string, unknown>>
      ).find((d) => d.id === a.deviceId);
    expect(await mine()).toMatchObject({ provider: 'cuda', accelerators });
    await a.heartbeat([], { provider: 'cuda' });
    expect((await mine())?.accelerators).toEqual(accelerators);
  });

  it('refuses a heartbeat whose provider check is malformed, naming the field', async () => {
    const t = await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id });
    const a = new ScriptedAgent(h.cp.url);
    await a.enrol(t.body.token, 'box-2');
    await expect(
      a.heartbeat([], {
        accelerators: { checks: [{ provider: 'quantum' as 'cpu', status: 'ok' }], gpu: null, variant: null },
      }),
    ).rejects.toThrow(/heartbeat: 400 .*accelerators/);
  });

  // PLC link state (issue 19) shares this harness: the same heartbeat → fleet view path.
  it("stores each device's PLC links from its heartbeat and keeps them when an older agent omits them", async () => {
    const t = await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id });
    const a = new ScriptedAgent(h.cp.url);
    await a.enrol(t.body.token, 'line-box');
    const plc = [
      { interface: 'opcua' as const, state: 'up' as const, clients: 1, detail: null },
      { interface: 'modbus' as const, state: 'idle' as const, clients: 0, detail: null },
      { interface: 's7' as const, state: 'down' as const, pending: 3, detail: 'connect ECONNREFUSED' },
    ];
    const mine = async () =>
      (
        (await admin.get(`/api/v1/devices?lineId=${fleet.line.id}`)).body as Array<Record<string, unknown>>
      ).find((d) => d.id === a.deviceId);
    await a.heartbeat([]);
    expect((await mine())?.plcLinks).toBeNull();
    await a.heartbeat([], { plc });
    expect((await mine())?.plcLinks).toEqual(plc);
    await a.heartbeat([]);
    expect((await mine())?.plcLinks).toEqual(plc);
    await expect(
      a.heartbeat([], { plc: [{ interface: 'profinet' as 's7', state: 'up', detail: null }] }),
    ).rejects.toThrow(/heartbeat: 400 .*plc/);
  });
});
