// PLC interfaces: trigger-to-result latency on loopback with the stand-in model. Run from the repo root:
//   npx tsx --conditions=@diad/source bench/plc.ts [--parts 300]
// For each interface a client plays the PLC, one part at a time:
//   opcua    DiAD handshake: call Trigger(PartId), poll ResultReady + PartId, call Acknowledge.
//   opc40100 OPC 40100: call StartSingleJob, wait for the ResultReady event (publishing interval 10 ms).
//   modbus   write Sequence+PartId, set Trigger, poll StatusWord for ResultReady, read the result, Ack.
//   s7       a stored result until its record and WriteCounter are in the DB of snap7's S7 server.
// Prints p50/p95/max per interface in ms. The stand-in model scores a 32×32 frame (no ONNX Runtime).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InspectionResult } from '@diad/protocol';
import modbusSerial from 'modbus-serial';
import {
  AttributeIds,
  coerceNodeId,
  constructEventFilter,
  DataType,
  MessageSecurityMode,
  makeBrowsePath,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  Variant,
  VariantArrayType,
} from 'node-opcua';
import pino from 'pino';
import { systemClock } from '../apps/agent/src/clock.js';
import { InspectionService } from '../apps/agent/src/inspection.js';
import { ModelManager } from '../apps/agent/src/inspector/model-manager.js';
import { makePpm } from '../apps/agent/src/inspector/pnm.js';
import { StandInInspector } from '../apps/agent/src/inspector/standin.js';
import { AgentMetrics } from '../apps/agent/src/metrics.js';
import { MACHINE_VISION_URI } from '../apps/agent/src/opcua/machine-vision.js';
import { AgentOpcuaServer } from '../apps/agent/src/opcua/server.js';
import { MemoryOutbox } from '../apps/agent/src/outbox/memory.js';
import { SqliteOutbox } from '../apps/agent/src/outbox/sqlite.js';
import {
  COIL,
  encodeString,
  HOLDING,
  INPUT,
  INPUT_REGISTERS,
  PART_ID_REGISTERS,
  STATUS_BIT,
} from '../apps/agent/src/plc/modbus-map.js';
import { ModbusPlcServer } from '../apps/agent/src/plc/modbus-server.js';
import { dbBytes, decodeHeader } from '../apps/agent/src/plc/s7-layout.js';
import { S7Output } from '../apps/agent/src/plc/s7-output.js';

const require = createRequire(import.meta.url);
const ModbusRTU = modbusSerial as unknown as typeof modbusSerial.default;
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const PARTS = arg('parts', 300);
const logger = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'diad-bench-plc-'));
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const report = (name: string, xs: number[]) =>
  console.log(
    `${name.padEnd(9)} n=${xs.length}  p50 ${pct(xs, 50).toFixed(2)} ms  p95 ${pct(xs, 95).toFixed(2)} ms  max ${Math.max(...xs).toFixed(2)} ms`,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function stack() {
  const bundle = join(dir, `standin-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    bundle,
    JSON.stringify({
      format: 'diad-standin',
      model: { name: 'standin', version: '1.0.0' },
      calibration: { imageThreshold: 0.5, pixelThreshold: 0.5 },
    }),
  );
  const models = new ModelManager(await StandInInspector.load(bundle));
  const service = new InspectionService({
    deviceId: 'bench',
    stations: [{ id: 'st1', queueSize: 8 }],
    models,
    outbox: new MemoryOutbox(1 << 26),
    clock: systemClock,
    metrics: new AgentMetrics(),
    logger,
  });
  const image = makePpm(32, 32, 100);
  const trigger = (station: string, partId: string): Promise<InspectionResult> =>
    service.submit({
      site: 's',
      line: 'l',
      station,
      camera: 'cam',
      partId,
      capturedAt: Date.now(),
      image,
    });
  return { service, trigger };
}

async function benchOpcua(): Promise<{ handshake: number[]; mv: number[] }> {
  const { service, trigger } = await stack();
  const server = new AgentOpcuaServer({
    port: await freePort(),
    securityModes: ['None'],
    securityPolicies: ['Basic256Sha256'],
    allowAnonymous: true,
    users: [],
    pkiDir: join(dir, 'pki'),
    autoAcceptCertificates: false,
    resultBufferSize: 16,
    samplingIntervalMs: 0,
    stations: ['st1'],
    trigger,
    canAccept: (s) => service.canAccept(s),
    agentStatus: () => ({
      ready: true,
      modelName: 'standin',
      modelVersion: '1.0.0',
      outboxDepth: 0,
      outboxFull: false,
    }),
    machineVision: {
      recipes: () => [
        {
          id: 'standin@1.0.0',
          modelName: 'standin',
          modelVersion: '1.0.0',
          modelSha256: '00'.repeat(32),
          category: null,
          thresholds: { version: 0, image: 0.5, pixel: 0.5 },
        },
      ],
    },
    logger,
  });
  await server.start();
  const client = OPCUAClient.create({
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
  });
  await client.connect(server.endpointUrl);
  const session = await client.createSession();
  const ns = server.namespaceIndex;
  const handshake: number[] = [];
  try {
    for (let i = 0; i < PARTS; i++) {
      const partId = `H-${i}`;
      const t0 = performance.now();
      await session.call({
        objectId: `ns=${ns};s=st1`,
        methodId: `ns=${ns};s=st1.Trigger`,
        inputArguments: [new Variant({ dataType: DataType.String, value: partId })],
      });
      for (;;) {
        const [ready, part] = await session.read([
          { nodeId: `ns=${ns};s=st1.ResultReady`, attributeId: AttributeIds.Value },
          { nodeId: `ns=${ns};s=st1.PartId`, attributeId: AttributeIds.Value },
        ]);
        if (ready.value.value === true && part.value.value === partId) break;
      }
      handshake.push(performance.now() - t0);
      await session.call({
        objectId: `ns=${ns};s=st1`,
        methodId: `ns=${ns};s=st1.Acknowledge`,
        inputArguments: [],
      });
      // The handshake shows ResultReady false for a moment between results.
      for (;;) {
        const r = await session.read({
          nodeId: `ns=${ns};s=st1.ResultReady`,
          attributeId: AttributeIds.Value,
        });
        if (r.value.value === false) break;
      }
    }

    // OPC 40100: prepare the recipe, then StartSingleJob → ResultReady event.
    const nsArray = (await session.read({ nodeId: 'i=2255', attributeId: AttributeIds.Value })).value
      .value as string[];
    const mv = nsArray.indexOf(MACHINE_VISION_URI);
    const vs = `ns=${ns};s=VisionSystem.st1`;
    const resolve = async (rel: string) =>
      (await session.translateBrowsePath(makeBrowsePath(vs, rel))).targets![0].targetId;
    const ext = async (id: number, fields: Record<string, unknown>) =>
      new Variant({
        dataType: DataType.ExtensionObject,
        value: await session.constructExtensionObject(coerceNodeId(`ns=${mv};i=${id}`), fields),
      });
    const rm = await resolve(`/${mv}:RecipeManagement`);
    await session.call({
      objectId: rm,
      methodId: await resolve(`/${mv}:RecipeManagement/${mv}:PrepareRecipe`),
      inputArguments: [await ext(3002, { id: 'standin@1.0.0' }), await ext(3013, { id: '' })],
    });
    const asm = await resolve(`/${mv}:VisionStateMachine/${mv}:AutomaticModeStateMachine`);
    const start = await resolve(
      `/${mv}:VisionStateMachine/${mv}:AutomaticModeStateMachine/${mv}:StartSingleJob`,
    );
    const sub = await session.createSubscription2({
      requestedPublishingInterval: 10,
      requestedMaxKeepAliveCount: 50,
      requestedLifetimeCount: 1000,
      publishingEnabled: true,
    });
    let onEvent: ((partId: string) => void) | null = null;
    const item = await sub.monitor(
      { nodeId: vs, attributeId: AttributeIds.EventNotifier },
      { samplingInterval: 0, queueSize: 100, filter: constructEventFilter([`${mv}:PartId`]) },
      TimestampsToReturn.Neither,
    );
    item.on('changed', (fields: Variant[]) => onEvent?.((fields[0].value as { id: string }).id));
    const mvTimes: number[] = [];
    for (let i = 0; i < PARTS; i++) {
      const partId = `J-${i}`;
      const args = [
        await ext(3015, { id: '' }),
        await ext(3004, { id: partId }),
        await ext(3002, { id: 'standin@1.0.0' }),
        await ext(3003, { id: 'p' }),
        new Variant({ dataType: DataType.Variant, arrayType: VariantArrayType.Array, value: [] }),
      ];
      const got = new Promise<void>((r) => {
        onEvent = (p) => p === partId && r();
      });
      const t0 = performance.now();
      const res = await session.call({ objectId: asm, methodId: start, inputArguments: args });
      if (res.statusCode.isNotGood()) throw new Error(`StartSingleJob: ${res.statusCode.toString()}`);
      await got;
      mvTimes.push(performance.now() - t0);
      // Back in Ready before the next job (the state changes right after the event is raised).
      await sleep(1);
    }
    await sub.terminate();
    return { handshake, mv: mvTimes };
  } finally {
    await session.close();
    await client.disconnect();
    await server.stop();
  }
}

async function benchModbus(): Promise<number[]> {
  const { service, trigger } = await stack();
  const server = new ModbusPlcServer({
    host: '127.0.0.1',
    port: 0,
    allowedClients: ['127.0.0.1'],
    stations: ['st1'],
    trigger,
    canAccept: (s) => service.canAccept(s),
    logger,
  });
  await server.start();
  const c = new ModbusRTU();
  await c.connectTCP('127.0.0.1', { port: server.port });
  c.setID(1);
  const times: number[] = [];
  try {
    for (let i = 0; i < PARTS; i++) {
      const seq = (i + 1) & 0xffff;
      await c.writeRegisters(HOLDING.Sequence, [seq, ...encodeString(`M-${i}`, PART_ID_REGISTERS)]);
      const t0 = performance.now();
      await c.writeCoil(COIL.Trigger, true);
      for (;;) {
        const w = (await c.readInputRegisters(INPUT.StatusWord, 1)).data[0];
        if (w & (1 << STATUS_BIT.ResultReady)) break;
      }
      const r = (await c.readInputRegisters(0, INPUT_REGISTERS)).data;
      times.push(performance.now() - t0);
      if (r[INPUT.ResultSequence] !== seq) throw new Error('Modbus: result of another trigger');
      await c.writeCoil(COIL.Ack, true);
    }
  } finally {
    await new Promise<void>((r) => c.close(() => r()));
    await server.stop();
  }
  return times;
}

async function benchS7(): Promise<number[]> {
  const snap7 = require('node-snap7');
  const s = new snap7.S7Server();
  const port = await freePort();
  let headerWritten: (() => void) | null = null;
  s.SetParam(s.LocalPort, port);
  s.RegisterArea(s.srvAreaDB, 10, Buffer.alloc(dbBytes(8)));
  // snap7 logs each write request; the header write (offset 0) completes a result.
  s.on('event', (e: unknown) => {
    if (/Write request, Area : DB10, Start : 0,/.test(s.EventText(e))) headerWritten?.();
  });
  const db = () => s.GetArea(s.srvAreaDB, 10) as Buffer;
  await new Promise<void>((r, j) => s.StartTo('127.0.0.1', (e: unknown) => (e ? j(e) : r())));
  const { trigger } = await stack();
  const outbox = new SqliteOutbox(join(dir, 's7.db'), { capacityBytes: 1 << 24 });
  const out = new S7Output({
    host: '127.0.0.1',
    port,
    rack: 0,
    slot: 1,
    timeoutMs: 2000,
    backoff: { initialMs: 100, maxMs: 1000 },
    stations: [{ station: 'st1', db: 10, slots: 8 }],
    outbox,
    clock: systemClock,
    logger,
  });
  out.start();
  const times: number[] = [];
  try {
    while (!out.connection.connected) await sleep(10);
    for (let i = 0; i < PARTS; i++) {
      const t0 = performance.now();
      const r = await trigger('st1', `S-${i}`);
      const done = new Promise<void>((res) => {
        headerWritten = () => decodeHeader(db()).writeCounter === i + 1 && res();
      });
      out.enqueue(r);
      const stall = setTimeout(
        () =>
          console.error('S7 stall', i, out.depth(), out.linkState(), decodeHeader(db()), s.ClientsCount()),
        5000,
      );
      await done;
      clearTimeout(stall);
      times.push(performance.now() - t0);
    }
  } finally {
    await out.stop();
    outbox.close();
    // snap7 kills workers that outlive its stop timeout (aborting the process): stop it with no client left.
    for (let t = 0; s.ClientsCount() > 0 && t < 1000; t++) await sleep(20);
    await new Promise<void>((r) => s.Stop(() => r()));
  }
  return times;
}

const started = Date.now();
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : '';
if (!only || only === 'opcua') {
  const { handshake, mv } = await benchOpcua();
  report('opcua', handshake);
  report('opc40100', mv);
}
if (!only || only === 'modbus') report('modbus', await benchModbus());
if (!only || only === 's7') report('s7', await benchS7());
console.log(
  `(${PARTS} parts per interface, stand-in model 32×32, loopback; ${((Date.now() - started) / 1000).toFixed(0)} s)`,
);
process.exit(0);
