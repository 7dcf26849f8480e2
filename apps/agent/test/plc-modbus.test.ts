import modbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import {
  COIL,
  decodeFloat32,
  decodeString,
  ERROR_CODE,
  encodeString,
  HOLDING,
  INPUT,
  INPUT_REGISTERS,
  PART_ID_REGISTERS,
  STATION_STRIDE,
  STATUS_BIT,
} from '../src/plc/modbus-map.js';
import { ModbusPlcServer } from '../src/plc/modbus-server.js';
import { silent } from './helpers.js';
import { poll } from './plc-helpers.js';
import { frame, inspectionStack } from './stack.js';

// CommonJS: the default import is module.exports, the client class itself (its typings say `default`).
const ModbusRTU = modbusSerial as unknown as typeof modbusSerial.default;
type ModbusRTU = InstanceType<typeof modbusSerial.default>;

const bit = (w: number, b: number) => (w & (1 << b)) !== 0;

/** A PLC's view of one station: the requests a PLC program would issue each scan. */
class PlcSim {
  constructor(
    readonly c: ModbusRTU,
    readonly base: number,
  ) {}
  async status() {
    return (await this.c.readInputRegisters(this.base + INPUT.StatusWord, 1)).data[0];
  }
  async request(seq: number, partId: string) {
    await this.c.writeRegisters(this.base + HOLDING.Sequence, [
      seq,
      ...encodeString(partId, PART_ID_REGISTERS),
    ]);
  }
  async trigger() {
    await this.c.writeCoil(this.base + COIL.Trigger, true);
  }
  async ack() {
    await this.c.writeCoil(this.base + COIL.Ack, true);
  }
  async result() {
    const r = (await this.c.readInputRegisters(this.base, INPUT_REGISTERS)).data;
    return {
      status: r[INPUT.StatusWord],
      accepted: r[INPUT.AcceptedSequence],
      sequence: r[INPUT.ResultSequence],
      errorCode: r[INPUT.ErrorCode],
      score: decodeFloat32(r[INPUT.Score], r[INPUT.Score + 1]),
      rejectCode: r[INPUT.RejectCode],
      partId: decodeString(r.slice(INPUT.ResultPartId, INPUT.ResultPartId + PART_ID_REGISTERS)),
    };
  }
  async waitStatus(pred: (w: number) => boolean, what: string) {
    return poll(
      async () => {
        const w = await this.status();
        return pred(w) ? w : undefined;
      },
      20_000,
      what,
    );
  }
}

async function connect(port: number) {
  const c = new ModbusRTU();
  await c.connectTCP('127.0.0.1', { port });
  c.setID(1);
  c.setTimeout(5000);
  return c;
}

describe('Modbus TCP server: PLC scan-cycle handshake against the inspection service', () => {
  let server: ModbusPlcServer;
  let client: ModbusRTU;

  beforeAll(async () => {
    const stack = await inspectionStack({
      stations: [
        { id: 'st1', queueSize: 4 },
        { id: 'st2', queueSize: 4 },
      ],
    });
    server = new ModbusPlcServer({
      host: '127.0.0.1',
      port: 0,
      allowedClients: ['127.0.0.1'],
      stations: ['st1', 'st2'],
      // The stand-in score is grey/255: each part's grey level comes from its part id, so a result proves
      // which trigger it answers.
      trigger: (s, p) => stack.service.submit(frame(s, p, Number(p.split('-')[1]) % 256)),
      canAccept: (s) => stack.service.canAccept(s),
      logger: silent,
    });
    await server.start();
    client = await connect(server.port);
  });
  afterAll(async () => {
    await new Promise<void>((r) => (client?.isOpen ? client.close(() => r()) : r()));
    await server?.stop();
  });

  it('1,000 PLC cycles trigger → busy → result → acknowledge: every result matches its own trigger', async () => {
    const plc = new PlcSim(client, 0);
    let mismatches = 0;
    const n = 1000;
    for (let i = 0; i < n; i++) {
      const seq = (i * 7 + 1) & 0xffff;
      const partId = `P-${i}`;
      await plc.waitStatus((w) => bit(w, STATUS_BIT.Ready), 'Ready');
      await plc.request(seq, partId);
      await plc.trigger();
      // Busy or an already finished result; never a result of the previous sequence with ResultReady set.
      const w = await plc.waitStatus((x) => bit(x, STATUS_BIT.ResultReady), 'ResultReady');
      const r = await plc.result();
      const expected = (i % 256) / 255;
      if (
        r.sequence !== seq ||
        r.partId !== partId ||
        Math.abs(r.score - expected) > 1e-4 ||
        r.errorCode !== ERROR_CODE.None ||
        bit(w, STATUS_BIT.OK) === bit(w, STATUS_BIT.NOK)
      )
        mismatches++;
      await plc.ack();
    }
    expect(mismatches).toBe(0);
    const after = await plc.status();
    expect(bit(after, STATUS_BIT.ResultReady)).toBe(false);
    expect(bit(after, STATUS_BIT.OK) || bit(after, STATUS_BIT.NOK)).toBe(false);
    // ~10 s on an idle machine; room for a loaded CI runner.
  }, 180_000);

  it('the second station answers at offset 100, independently of the first', async () => {
    const plc = new PlcSim(client, STATION_STRIDE);
    await plc.request(4242, 'P-7');
    await plc.trigger();
    await plc.waitStatus((x) => bit(x, STATUS_BIT.ResultReady), 'st2 ResultReady');
    const r = await plc.result();
    expect(r).toMatchObject({ sequence: 4242, partId: 'P-7', errorCode: 0 });
    expect(r.score).toBeCloseTo(7 / 255, 4);
    const st1 = await new PlcSim(client, 0).status();
    expect(bit(st1, STATUS_BIT.ResultReady)).toBe(false);
    await plc.ack();
  });
});

describe('Modbus TCP server: trigger while busy, unacknowledged result, address allow-list', () => {
  let server: ModbusPlcServer;
  let client: ModbusRTU;
  const pending: ((partId: string) => void)[] = [];
  const triggered: string[] = [];

  beforeAll(async () => {
    const stack = await inspectionStack();
    server = new ModbusPlcServer({
      host: '127.0.0.1',
      port: 0,
      allowedClients: ['127.0.0.0/8'],
      stations: ['st1'],
      // Inspections finish only when the test releases them.
      trigger: (s, p) => {
        triggered.push(p);
        return new Promise((resolve) => pending.push(() => resolve(stack.service.submit(frame(s, p, 200)))));
      },
      canAccept: () => true,
      logger: silent,
    });
    await server.start();
    client = await connect(server.port);
  });
  afterAll(async () => {
    await new Promise<void>((r) => (client?.isOpen ? client.close(() => r()) : r()));
    await server?.stop();
  });

  it('refuses a trigger while busy (TriggerRejected, RejectCode 10) and still presents the first part', async () => {
    const plc = new PlcSim(client, 0);
    await plc.request(1, 'first');
    await plc.trigger();
    let r = await plc.result();
    expect(bit(r.status, STATUS_BIT.Busy)).toBe(true);
    expect(bit(r.status, STATUS_BIT.Ready)).toBe(false);
    expect(r.accepted).toBe(1);

    await plc.request(2, 'second');
    await plc.trigger();
    r = await plc.result();
    expect(bit(r.status, STATUS_BIT.TriggerRejected)).toBe(true);
    expect(r.rejectCode).toBe(ERROR_CODE.TriggerWhileBusy);
    expect(r.accepted).toBe(1);
    expect(triggered).toEqual(['first']);

    pending.shift()!('first');
    await plc.waitStatus((x) => bit(x, STATUS_BIT.ResultReady), 'ResultReady');
    r = await plc.result();
    expect(r).toMatchObject({ sequence: 1, partId: 'first', errorCode: 0 });
    expect(bit(r.status, STATUS_BIT.NOK)).toBe(true);

    // A trigger before the acknowledgement is refused too: the PLC must take the result first.
    await plc.request(3, 'third');
    await plc.trigger();
    r = await plc.result();
    expect(r.rejectCode).toBe(ERROR_CODE.ResultNotAcknowledged);
    expect(r.sequence).toBe(1);
    expect(triggered).toEqual(['first']);

    await plc.ack();
    r = await plc.result();
    expect(bit(r.status, STATUS_BIT.ResultReady)).toBe(false);
    expect(bit(r.status, STATUS_BIT.NOK)).toBe(false);
    expect(bit(r.status, STATUS_BIT.Ready)).toBe(true);

    await plc.trigger();
    r = await plc.result();
    expect(bit(r.status, STATUS_BIT.TriggerRejected)).toBe(false);
    expect(r.rejectCode).toBe(0);
    expect(r.accepted).toBe(3);
    pending.shift()!('third');
    await plc.waitStatus((x) => bit(x, STATUS_BIT.ResultReady), 'ResultReady');
    expect(await plc.result()).toMatchObject({ sequence: 3, partId: 'third' });
    await plc.ack();
    // Acknowledging again has nothing to acknowledge.
    await plc.ack();
    expect((await plc.result()).rejectCode).toBe(ERROR_CODE.AckWithoutResult);
  });

  it('closes connections from addresses outside allowedClients', async () => {
    const closed = new ModbusPlcServer({
      host: '127.0.0.1',
      port: 0,
      allowedClients: ['10.11.12.13', '192.168.0.0/16'],
      stations: ['st1'],
      trigger: () => Promise.reject(new Error('never')),
      canAccept: () => true,
      logger: silent,
    });
    await closed.start();
    try {
      const c = new ModbusRTU();
      c.setTimeout(3000);
      const outcome = await c
        .connectTCP('127.0.0.1', { port: closed.port })
        .then(() => c.readInputRegisters(0, 1))
        .then(
          () => 'answered',
          () => 'refused',
        );
      expect(outcome).toBe('refused');
      expect(closed.linkState().refusedConnections).toBeGreaterThanOrEqual(1);
      if (c.isOpen) await new Promise<void>((r) => c.close(() => r()));
    } finally {
      await closed.stop();
    }
  });
});

describe('plc config', () => {
  const base = {
    site: 's',
    line: 'l',
    dataDir: '/tmp/x',
    model: { kind: 'standin', bundle: '/tmp/b.json' },
    stations: [{ id: 'st1' }],
    opcua: { enabled: false },
  };
  it('defaults Modbus and S7 off, Modbus to 127.0.0.1 only', () => {
    const c = parseConfig(base);
    expect(c.plc.modbus).toMatchObject({ enabled: false, port: 502, allowedClients: ['127.0.0.1'] });
    expect(c.plc.s7.enabled).toBe(false);
  });
  it('names the key of a bad allow-list entry or an unknown S7 station', () => {
    expect(() => parseConfig({ ...base, plc: { modbus: { allowedClients: ['10.0.0.0/40'] } } })).toThrow(
      /plc\.modbus\.allowedClients\.0/,
    );
    expect(() => parseConfig({ ...base, plc: { modbus: { allowedClients: ['plc.local'] } } })).toThrow(
      /plc\.modbus\.allowedClients\.0/,
    );
    expect(() =>
      parseConfig({ ...base, plc: { s7: { enabled: true, stations: [{ station: 'nope', db: 10 }] } } }),
    ).toThrow(/plc\.s7\.stations\.0\.station: unknown station/);
    expect(() => parseConfig({ ...base, plc: { s7: { enabled: true } } })).toThrow(/plc\.s7\.stations/);
  });
});
