import { createRequire } from 'node:module';
import { join } from 'node:path';
import modbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { COIL, ERROR_CODE, HOLDING, INPUT, STATUS_BIT } from '../src/plc/modbus-map.js';
import { dbBytes, decodeHeader, decodeRecord } from '../src/plc/s7-layout.js';
import { silent, standInBundle, tmp, waitFor } from './helpers.js';
import { freePort, poll, stopSnap7 } from './plc-helpers.js';

const require = createRequire(import.meta.url);
const ModbusRTU = modbusSerial as unknown as typeof modbusSerial.default;

describe('Agent: Modbus and S7 wired from agent.yaml, link state for the heartbeat', () => {
  let agent: Agent;
  // biome-ignore lint/suspicious/noExplicitAny: node-snap7 has no typings.
  let s7: any;
  const db = () => s7.GetArea(s7.srvAreaDB, 7) as Buffer;
  let client: InstanceType<typeof ModbusRTU>;

  beforeAll(async () => {
    const snap7 = require('node-snap7');
    s7 = new snap7.S7Server();
    const s7Port = await freePort();
    s7.SetParam(s7.LocalPort, s7Port);
    s7.RegisterArea(s7.srvAreaDB, 7, Buffer.alloc(dbBytes(4)));
    await new Promise<void>((r, j) => s7.StartTo('127.0.0.1', (e: unknown) => (e ? j(e) : r())));
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
        plc: {
          modbus: { enabled: true, host: '127.0.0.1', port: 0, allowedClients: ['127.0.0.1'] },
          s7: {
            enabled: true,
            host: '127.0.0.1',
            port: s7Port,
            timeoutMs: 2000,
            backoff: { initialMs: 100, maxMs: 500 },
            stations: [{ station: 'st1', db: 7, slots: 4 }],
          },
        },
      }),
      { logger: silent },
    );
    client = new ModbusRTU();
    await client.connectTCP('127.0.0.1', { port: agent.modbus!.port });
    client.setTimeout(5000);
  });
  afterAll(async () => {
    if (client?.isOpen) await new Promise<void>((r) => client.close(() => r()));
    await agent?.stop();
    if (s7) await stopSnap7(s7);
  });

  it('a Modbus trigger without a trigger camera completes with a capture-failed result, also written to S7', async () => {
    await client.writeRegisters(HOLDING.Sequence, [9, 0x5031, 0]); // "P1"
    await client.writeCoil(COIL.Trigger, true);
    const r = await poll(
      async () => {
        const regs = (await client.readInputRegisters(0, 12)).data;
        return regs[INPUT.StatusWord] & (1 << STATUS_BIT.ResultReady) ? regs : undefined;
      },
      20_000,
      'ResultReady',
    );
    expect(r[INPUT.ResultSequence]).toBe(9);
    expect(r[INPUT.ErrorCode]).toBe(ERROR_CODE.CaptureFailed);
    expect(r[INPUT.StatusWord] & (1 << STATUS_BIT.Error)).toBeTruthy();
    await client.writeCoil(COIL.Ack, true);

    await waitFor(() => decodeHeader(db()).writeCounter === 1, 20_000, 'S7 record');
    expect(decodeRecord(db(), 0)).toMatchObject({ counter: 1, partId: 'P1', state: 3, errorCode: 3 });

    await waitFor(() => agent.s7!.depth() === 0, 20_000, 'S7 outbox drained');
    const links = agent.plcLinks();
    expect(links).toEqual([
      { interface: 'modbus', state: 'up', clients: 1, detail: null },
      { interface: 's7', state: 'up', pending: 0, detail: null },
    ]);
  });
});
