import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import {
  AttributeIds,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  UserTokenType,
} from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOpcuaServer } from '../src/opcua/server.js';
import { silent, tmp } from './helpers.js';
import { frame, inspectionStack } from './stack.js';

const PORT = 49_000 + Math.floor(Math.random() * 1000);

describe('OPC UA server: SignAndEncrypt / Basic256Sha256, user/password, trust list', () => {
  let server: AgentOpcuaServer;
  const serverPki = tmp();
  const clientPki = tmp();
  const mk = () =>
    OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.SignAndEncrypt,
      securityPolicy: SecurityPolicy.Basic256Sha256,
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
      clientCertificateManager: new OPCUACertificateManager({
        rootFolder: clientPki,
        automaticallyAcceptUnknownCertificate: true,
      }),
    });

  beforeAll(async () => {
    const stack = await inspectionStack();
    server = new AgentOpcuaServer({
      port: PORT,
      securityModes: ['Sign', 'SignAndEncrypt'],
      securityPolicies: ['Basic256Sha256'],
      allowAnonymous: false,
      users: [{ username: 'plc', password: 'line-1-secret' }],
      pkiDir: serverPki,
      autoAcceptCertificates: false,
      resultBufferSize: 4,
      samplingIntervalMs: 50,
      stations: ['st1'],
      trigger: (s, p) => stack.service.submit(frame(s, p, 10)),
      canAccept: () => true,
      logger: silent,
    });
    await server.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('creates the PKI folders on first start', () => {
    expect(readdirSync(serverPki)).toEqual(expect.arrayContaining(['own', 'trusted', 'rejected']));
  });

  it('rejects an untrusted client certificate, then accepts it once moved to trusted/', async () => {
    const c1 = mk();
    await expect(c1.connect(server.endpointUrl)).rejects.toThrow();
    await c1.disconnect();
    const rejected = join(serverPki, 'rejected');
    const certs = readdirSync(rejected).filter((f) => f.endsWith('.pem') || f.endsWith('.der'));
    expect(certs.length).toBeGreaterThan(0);
    for (const f of certs) renameSync(join(rejected, f), join(serverPki, 'trusted', 'certs', f));
    await server.reloadTrustList();

    const c2 = mk();
    await c2.connect(server.endpointUrl);
    await expect(
      c2.createSession({ type: UserTokenType.UserName, userName: 'plc', password: 'wrong' }),
    ).rejects.toThrow();
    await expect(c2.createSession()).rejects.toThrow();
    const session = await c2.createSession({
      type: UserTokenType.UserName,
      userName: 'plc',
      password: 'line-1-secret',
    });
    const ns = server.namespaceIndex;
    const dv = await session.read({ nodeId: `ns=${ns};s=st1.TriggerReady`, attributeId: AttributeIds.Value });
    expect(dv.value.value).toBe(true);
    await session.close();
    await c2.disconnect();
  });

  it('does not offer SecurityMode None unless configured', async () => {
    const c = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 0 } });
    await c.connect(server.endpointUrl);
    const eps = await c.getEndpoints();
    await c.disconnect();
    expect(eps.length).toBeGreaterThan(0);
    expect(eps.every((e) => e.securityMode !== MessageSecurityMode.None)).toBe(true);
    expect(eps.every((e) => e.securityPolicyUri?.endsWith('Basic256Sha256'))).toBe(true);
  });
});
