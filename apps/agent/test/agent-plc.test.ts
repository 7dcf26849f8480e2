import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  AttributeIds,
  DataType,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  UserTokenType,
} from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { FakeControlPlane } from './fake-control-plane.js';
import { silent, standInBundle, tmp, waitFor } from './helpers.js';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
const OPC_PORT = 47_000 + Math.floor(Math.random() * 1000);

describe.runIf(hasFfmpeg)(
  'Agent: PLC trigger over OPC UA inspects the camera frame; control plane enrolment',
  () => {
    let agent: Agent;
    const cp = new FakeControlPlane();

    beforeAll(async () => {
      await cp.start();
      const dir = tmp();
      agent = await Agent.start(
        parseConfig({
          site: 'site1',
          line: 'line1',
          dataDir: join(dir, 'data'),
          model: { kind: 'standin', bundle: standInBundle(dir) },
          stations: [{ id: 'st1', triggerCamera: 'cam1' }],
          sources: {
            cameras: [
              {
                id: 'cam1',
                station: 'st1',
                input: 'lavfi',
                url: 'testsrc=size=64x48:rate=10',
                width: 32,
                height: 24,
              },
            ],
          },
          mqtt: { enabled: false },
          images: { save: 'all' },
          opcua: {
            port: OPC_PORT,
            securityModes: ['None'],
            users: [{ username: 'plc', password: 'pw-123456' }],
            samplingIntervalMs: 20,
          },
          http: { host: '127.0.0.1', port: 0 },
          controlPlane: { url: cp.url, enrolToken: 'one-time-token-0123456789', heartbeatMs: 200 },
        }),
        { logger: silent },
      );
    });
    afterAll(async () => {
      await agent?.stop();
      await cp.close();
    });

    it('enrols, takes the control plane device id and heartbeats', async () => {
      await waitFor(() => cp.heartbeats.length >= 2, 10_000, 'heartbeats');
      expect(cp.enrolments).toBe(1);
      expect(cp.heartbeats.at(-1)).toMatchObject({ health: 'ok', activeModel: { name: 'standin' } });
    });

    it('Trigger(PartId) inspects the latest camera frame and presents the result', async () => {
      const client = OPCUAClient.create({
        endpointMustExist: false,
        securityMode: MessageSecurityMode.None,
        securityPolicy: SecurityPolicy.None,
        connectionStrategy: { maxRetry: 1 },
      });
      await client.connect(`opc.tcp://127.0.0.1:${OPC_PORT}`);
      await expect(client.createSession()).rejects.toThrow(); // anonymous is off by default
      const session = await client.createSession({
        type: UserTokenType.UserName,
        userName: 'plc',
        password: 'pw-123456',
      });
      const ns = agent.opcua!.namespaceIndex;
      const read = async (n: string) =>
        (await session.read({ nodeId: `ns=${ns};s=st1.${n}`, attributeId: AttributeIds.Value })).value.value;
      await waitFor(() => agent.cameras.get('cam1')!.framesRead > 0, 10_000, 'camera frames');
      const res = await session.call({
        objectId: `ns=${ns};s=st1`,
        methodId: `ns=${ns};s=st1.Trigger`,
        inputArguments: [{ dataType: DataType.String, value: 'SN-0001' }],
      });
      expect(res.statusCode).toBe(StatusCodes.Good);
      await waitFor(() => agent.opcua!.handshakes.get('st1')!.view().resultReady, 10_000, 'result');
      expect(await read('PartId')).toBe('SN-0001');
      const agentVar = async (n: string) =>
        (await session.read({ nodeId: `ns=${ns};s=Agent.${n}`, attributeId: AttributeIds.Value })).value
          .value;
      expect(await agentVar('Ready')).toBe(true);
      expect(await agentVar('ModelName')).toBe('standin');
      expect(await agentVar('OutboxFull')).toBe(false);
      expect(['OK', 'NOK']).toContain(await read('Verdict'));
      expect(await read('Error')).toBe(false);
      // Without MQTT, results reach the control plane over HTTP (POST /api/v1/agent/results).
      await waitFor(() => cp.results.some((x) => x.partId === 'SN-0001'), 10_000, 'result posted');
      const r = cp.results.find((x) => x.partId === 'SN-0001')!;
      expect(r).toMatchObject({
        camera: 'cam1',
        deviceId: 'dev-1',
        imageRef: expect.stringMatching(/\.png$/),
      });
      // The camera frame, saved as PNG, follows the result to the control plane.
      await waitFor(() => cp.artifacts.has(`${r.resultId}/image`), 10_000, 'image uploaded');
      expect(cp.artifacts.get(`${r.resultId}/image`)!.bytes.subarray(1, 4).toString()).toBe('PNG');
      await waitFor(() => agent.outbox.depth() === 0, 5000, 'outbox drained');
      await session.close();
      await client.disconnect();
    });
  },
);
