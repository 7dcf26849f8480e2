import {
  AttributeIds,
  type ClientSession,
  DataType,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
} from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOpcuaServer } from '../src/opcua/server.js';
import { silent, tmp, waitFor } from './helpers.js';
import { frame, inspectionStack } from './stack.js';

const PORT = 48_000 + Math.floor(Math.random() * 1000);

describe('OPC UA server: trigger and PLC handshake (SecurityMode None)', () => {
  let server: AgentOpcuaServer;
  let client: OPCUAClient;
  let session: ClientSession;
  let ns: number;
  let stack: Awaited<ReturnType<typeof inspectionStack>>;
  const id = (station: string, name: string) => `ns=${ns};s=${station}.${name}`;
  const read = async (station: string, name: string) =>
    (await session.read({ nodeId: id(station, name), attributeId: AttributeIds.Value })).value.value;
  const call = (station: string, method: string, args: { dataType: DataType; value: unknown }[] = []) =>
    session.call({ objectId: `ns=${ns};s=${station}`, methodId: id(station, method), inputArguments: args });
  const trigger = (station: string, partId: string) =>
    call(station, 'Trigger', [{ dataType: DataType.String, value: partId }]);

  beforeAll(async () => {
    stack = await inspectionStack({
      stations: [
        { id: 'st1', queueSize: 4 },
        { id: 'st2', queueSize: 4 },
      ],
    });
    server = new AgentOpcuaServer({
      port: PORT,
      securityModes: ['None'],
      securityPolicies: ['Basic256Sha256'],
      allowAnonymous: true,
      users: [],
      pkiDir: tmp(),
      autoAcceptCertificates: false,
      resultBufferSize: 3,
      samplingIntervalMs: 20,
      stations: ['st1', 'st2'],
      // partId encodes the test image: "grey-<level>" or "garbage".
      trigger: (station, partId) =>
        stack.service.submit(
          frame(station, partId, partId.startsWith('garbage') ? -1 : Number(partId.split('-')[1] ?? 10)),
        ),
      canAccept: (s) => stack.service.canAccept(s),
      logger: silent,
    });
    await server.start();
    ns = server.namespaceIndex;
    client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      connectionStrategy: { maxRetry: 1 },
    });
    await client.connect(server.endpointUrl);
    session = await client.createSession();
  });
  afterAll(async () => {
    await session?.close();
    await client?.disconnect();
    await server?.stop();
  });

  it('publishes stable node ids with a minimum sampling interval', async () => {
    expect(ns).toBeGreaterThan(0);
    const dv = await session.read({
      nodeId: id('st1', 'Score'),
      attributeId: AttributeIds.MinimumSamplingInterval,
    });
    expect(dv.statusCode).toBe(StatusCodes.Good);
    expect(dv.value.value).toBe(20);
    expect(await read('st1', 'TriggerReady')).toBe(true);
    expect(await read('st1', 'ResultReady')).toBe(false);
  });

  it('runs Trigger -> ResultReady -> read -> Acknowledge', async () => {
    const res = await trigger('st1', 'grey-200');
    expect(res.statusCode).toBe(StatusCodes.Good);
    await waitFor(() => server.handshakes.get('st1')!.view().resultReady);
    expect(await read('st1', 'ResultReady')).toBe(true);
    expect(await read('st1', 'PartId')).toBe('grey-200');
    expect(await read('st1', 'Verdict')).toBe('NOK');
    expect(await read('st1', 'Score')).toBeCloseTo(200 / 255, 5);
    expect(await read('st1', 'ModelVersion')).toBe('1.0.0');
    expect(await read('st1', 'Error')).toBe(false);
    const resultId = await read('st1', 'ResultId');
    expect(stack.outbox.peek(100).some((e) => e.result.resultId === resultId)).toBe(true);
    expect((await call('st1', 'Acknowledge')).statusCode).toBe(StatusCodes.Good);
    expect(await read('st1', 'ResultReady')).toBe(false);
    expect((await call('st1', 'Acknowledge')).statusCode).toBe(StatusCodes.BadInvalidState);
  });

  it('buffers results so a slow PLC reads each part in order, and refuses triggers when the buffer is full', async () => {
    for (const p of ['grey-10', 'grey-20', 'grey-30'])
      expect((await trigger('st2', p)).statusCode).toBe(StatusCodes.Good);
    await waitFor(() => server.handshakes.get('st2')!.view().bufferedResults === 3);
    expect(await read('st2', 'TriggerReady')).toBe(false);
    expect((await trigger('st2', 'grey-40')).statusCode).toBe(StatusCodes.BadResourceUnavailable);
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      await waitFor(() => server.handshakes.get('st2')!.view().resultReady, 5000, 'next result');
      seen.push(String(await read('st2', 'PartId')));
      expect(await read('st2', 'Verdict')).toBe('OK');
      // Acknowledge by writing the Ack variable, as PLCs without method calls do.
      const w = await session.write({
        nodeId: id('st2', 'Ack'),
        attributeId: AttributeIds.Value,
        value: { value: { dataType: DataType.Boolean, value: true } },
      });
      expect(w).toBe(StatusCodes.Good);
      await waitFor(
        () =>
          !server.handshakes.get('st2')!.view().resultReady ||
          server.handshakes.get('st2')!.view().bufferedResults < 3 - i,
      );
    }
    expect(seen).toEqual(['grey-10', 'grey-20', 'grey-30']);
    await waitFor(() => server.handshakes.get('st2')!.view().triggerReady);
    expect(await read('st2', 'Ack')).toBe(false);
  });

  it('reports a bad frame as an error result and keeps serving', async () => {
    await trigger('st1', 'garbage-1');
    await waitFor(() => server.handshakes.get('st1')!.view().resultReady);
    expect(await read('st1', 'Error')).toBe(true);
    expect(await read('st1', 'ErrorCode')).toBe('IMAGE_DECODE');
    expect(await read('st1', 'State')).toBe('error');
    await call('st1', 'Acknowledge');
    await trigger('st1', 'grey-5');
    await waitFor(() => server.handshakes.get('st1')!.view().resultReady);
    expect(await read('st1', 'Verdict')).toBe('OK');
    await call('st1', 'Acknowledge');
  });

  it('rejects an empty part id', async () => {
    expect((await trigger('st1', '')).statusCode).toBe(StatusCodes.BadInvalidArgument);
  });
});
