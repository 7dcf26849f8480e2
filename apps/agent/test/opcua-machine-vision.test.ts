import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  AttributeIds,
  type ClientSession,
  type ClientSubscription,
  coerceNodeId,
  constructEventFilter,
  DataType,
  type ExtensionObject,
  MessageSecurityMode,
  makeBrowsePath,
  type NodeId,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  UserTokenType,
  Variant,
  VariantArrayType,
} from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MACHINE_VISION_URI } from '../src/opcua/machine-vision.js';
import { hashPassword, verifyPassword } from '../src/opcua/passwords.js';
import { AgentOpcuaServer, DIAD_NAMESPACE_URI } from '../src/opcua/server.js';
import { silent, tmp, waitFor } from './helpers.js';
import { freePort } from './plc-helpers.js';
import { frame, inspectionStack } from './stack.js';

const require = createRequire(import.meta.url);

/**
 * Instance declarations of a type in the MachineVision nodeset XML: browse paths (namespace 1 = MachineVision)
 * of every Mandatory member, descending into Mandatory members and the optionals we instantiate.
 */
function mandatoryPaths(typeNodeId: string, optionals: string[]): string[][] {
  const xml = readFileSync(
    require.resolve('node-opcua-nodesets/nodesets/Opc.Ua.MachineVision.NodeSet2.xml'),
    'utf8',
  );
  const nodes = new Map<
    string,
    { browseName: string; refs: { type: string; target: string; forward: boolean }[] }
  >();
  for (const m of xml.matchAll(
    /<UA(?:Object|Variable|Method|ObjectType|VariableType)\s([^>]*)>([\s\S]*?)<\/UA(?:Object|Variable|Method|ObjectType|VariableType)>/g,
  )) {
    const attrs = m[1];
    const nodeId = /NodeId="([^"]+)"/.exec(attrs)?.[1];
    const browseName = /BrowseName="([^"]+)"/.exec(attrs)?.[1];
    if (!nodeId || !browseName) continue;
    const refs = [
      ...m[2].matchAll(/<Reference ReferenceType="([^"]+)"(\s+IsForward="false")?>([^<]+)<\/Reference>/g),
    ].map((r) => ({ type: r[1], forward: !r[2], target: r[3].trim() }));
    nodes.set(nodeId, { browseName, refs });
  }
  const hierarchical = new Set(['HasComponent', 'HasProperty', 'HasOrderedComponent']);
  const childrenOf = (id: string) => {
    const out = new Set<string>();
    for (const r of nodes.get(id)?.refs ?? []) if (r.forward && hierarchical.has(r.type)) out.add(r.target);
    for (const [cid, n] of nodes)
      if (n.refs.some((r) => !r.forward && hierarchical.has(r.type) && r.target === id)) out.add(cid);
    return [...out];
  };
  const paths: string[][] = [];
  const walk = (id: string, prefix: string[]) => {
    for (const c of childrenOf(id)) {
      const n = nodes.get(c);
      if (!n) continue;
      const path = [...prefix, n.browseName];
      const mandatory = n.refs.some((r) => r.type === 'HasModellingRule' && r.target === 'i=78');
      const wanted = optionals.includes(path.map((p) => p.replace(/^\d+:/, '')).join('.'));
      if (!mandatory && !wanted) continue;
      paths.push(path);
      walk(c, path);
    }
  };
  walk(typeNodeId, []);
  return paths;
}

describe('OPC 40100 Machine Vision conformance (node-opcua client against the agent server)', () => {
  let server: AgentOpcuaServer;
  let client: OPCUAClient;
  let session: ClientSession;
  let mv: number;
  let ns: number;
  let stack: Awaited<ReturnType<typeof inspectionStack>>;
  const recipe = {
    id: 'standin@1.0.0#bottle',
    modelName: 'standin',
    modelVersion: '1.0.0',
    modelSha256: 'ab'.repeat(32),
    category: 'bottle',
    thresholds: { version: 3, image: 0.5, pixel: 0.5 },
  };
  const vs = () => `ns=${ns};s=VisionSystem.st1`;
  const resolve = async (relative: string): Promise<NodeId> => {
    const r = await session.translateBrowsePath(makeBrowsePath(vs(), relative));
    if (r.statusCode.value !== StatusCodes.Good.value || !r.targets?.length)
      throw new Error(`${relative}: ${r.statusCode.toString()}`);
    return r.targets[0].targetId as NodeId;
  };
  const ext = async (typeId: number, fields: Record<string, unknown>) =>
    new Variant({
      dataType: DataType.ExtensionObject,
      value: await session.constructExtensionObject(coerceNodeId(`ns=${mv};i=${typeId}`), fields),
    });
  const call = async (objectPath: string, method: string, inputArguments: Variant[] = []) => {
    const objectId = objectPath ? await resolve(objectPath) : vs();
    const methodId = await resolve(`${objectPath}/${mv}:${method}`);
    return session.call({ objectId, methodId, inputArguments });
  };
  const stateOf = async (path: string) => {
    const id = await resolve(`${path}/0:CurrentState`);
    return (await session.read({ nodeId: id, attributeId: AttributeIds.Value })).value.value?.text as string;
  };
  const system = () => stateOf(`/${mv}:VisionStateMachine`);
  const automatic = () => stateOf(`/${mv}:VisionStateMachine/${mv}:AutomaticModeStateMachine`);
  const cause = [
    new Variant({ dataType: DataType.Int32, value: 0 }),
    new Variant({ dataType: DataType.String, value: 'test' }),
  ];
  const VSM = () => `/${mv}:VisionStateMachine`;
  const ASM = () => `/${mv}:VisionStateMachine/${mv}:AutomaticModeStateMachine`;
  const RM = () => `/${mv}:RecipeManagement`;
  const RES = () => `/${mv}:ResultManagement`;
  const jobArgs = async (partId: string, productId: string) => [
    await ext(3015, { id: `meas-${partId}` }),
    await ext(3004, { id: partId }),
    await ext(3002, { id: recipe.id }),
    await ext(3003, { id: productId }),
    new Variant({ dataType: DataType.Variant, arrayType: VariantArrayType.Array, value: [] }),
  ];

  beforeAll(async () => {
    stack = await inspectionStack({ delayMs: 300 });
    server = new AgentOpcuaServer({
      port: await freePort(),
      securityModes: ['None'],
      securityPolicies: ['Basic256Sha256'],
      allowAnonymous: false,
      // Stored as an scrypt hash only; the server never holds or compares the plain password.
      users: [{ username: 'mes', passwordHash: hashPassword('vision-pw-1', 1024) }],
      pkiDir: tmp(),
      autoAcceptCertificates: false,
      resultBufferSize: 8,
      samplingIntervalMs: 20,
      stations: ['st1'],
      trigger: (s, p) => stack.service.submit(frame(s, p, 200)),
      canAccept: (s) => stack.service.canAccept(s),
      agentStatus: () => ({
        ready: true,
        modelName: 'standin',
        modelVersion: '1.0.0',
        outboxDepth: 0,
        outboxFull: false,
      }),
      machineVision: { recipes: () => [recipe] },
      logger: silent,
    });
    await server.start();
    client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      connectionStrategy: { maxRetry: 1 },
      requestedSessionTimeout: 120_000,
    });
    await client.connect(server.endpointUrl);
    session = await client.createSession({
      type: UserTokenType.UserName,
      userName: 'mes',
      password: 'vision-pw-1',
    });
    const nsArray = (await session.read({ nodeId: 'i=2255', attributeId: AttributeIds.Value })).value
      .value as string[];
    ns = nsArray.indexOf(DIAD_NAMESPACE_URI);
    mv = nsArray.indexOf(MACHINE_VISION_URI);
  }, 120_000);
  afterAll(async () => {
    await session?.close();
    await client?.disconnect();
    await server?.stop();
  });

  it('refuses a wrong password (scrypt hash comparison)', async () => {
    expect(verifyPassword('vision-pw-1', hashPassword('vision-pw-1', 1024))).toBe(true);
    expect(verifyPassword('vision-pw-2', hashPassword('vision-pw-1', 1024))).toBe(false);
    const c = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      connectionStrategy: { maxRetry: 0 },
    });
    await c.connect(server.endpointUrl);
    await expect(
      c.createSession({ type: UserTokenType.UserName, userName: 'mes', password: 'wrong' }),
    ).rejects.toThrow();
    await c.disconnect();
  });

  it('keeps the DiAD namespace at index 2 and its node ids next to the vision system', async () => {
    expect(ns).toBe(2);
    expect(mv).toBeGreaterThan(2);
    const dv = await session.read({ nodeId: `ns=2;s=st1.TriggerReady`, attributeId: AttributeIds.Value });
    expect(dv.statusCode.value).toBe(StatusCodes.Good.value);
    const type = await session.read({ nodeId: vs(), attributeId: AttributeIds.BrowseName });
    expect(type.value.value.name).toBe('st1');
  });

  it('has every Mandatory node of VisionSystemType (and the optionals we instantiate) from the nodeset XML', async () => {
    const paths = mandatoryPaths('ns=1;i=1003', [
      'RecipeManagement',
      'ResultManagement',
      'VisionStateMachine.AutomaticModeStateMachine',
      'VisionStateMachine.SelectModeAutomatic',
    ]);
    expect(paths.length).toBeGreaterThan(20);
    const missing: string[] = [];
    for (const p of paths) {
      const rel = p.map((seg) => `/${seg.replace(/^1:/, `${mv}:`).replace(/^(?!\d+:)/, '0:')}`).join('');
      const r = await session.translateBrowsePath(makeBrowsePath(vs(), rel));
      if (r.statusCode.value !== StatusCodes.Good.value) missing.push(rel);
    }
    expect(missing).toEqual([]);
    // Methods we rely on by name.
    for (const m of ['StartSingleJob', 'StartContinuous', 'Stop', 'Abort'])
      expect(paths.some((p) => p.join('/').endsWith(`AutomaticModeStateMachine/1:${m}`))).toBe(true);
  });

  it('drives the system state machine; illegal calls are refused with Bad_InvalidState', async () => {
    expect(await system()).toBe('Operational');
    expect(await automatic()).toBe('Initialized');
    expect((await call(ASM(), 'StartSingleJob', await jobArgs('x', 'p'))).statusCode.value).toBe(
      StatusCodes.BadInvalidState.value,
    );
    expect((await call(ASM(), 'Stop', cause)).statusCode.value).toBe(StatusCodes.BadInvalidState.value);
    expect((await call(VSM(), 'Halt', cause)).statusCode.value).toBe(StatusCodes.Good.value);
    expect(await system()).toBe('Halted');
    expect((await call(VSM(), 'Halt', cause)).statusCode.value).toBe(StatusCodes.BadInvalidState.value);
    expect((await call(VSM(), 'SelectModeAutomatic')).statusCode.value).toBe(
      StatusCodes.BadInvalidState.value,
    );
    expect((await call(VSM(), 'Reset', cause)).statusCode.value).toBe(StatusCodes.Good.value);
    expect(await system()).toBe('Preoperational');
    expect((await call(VSM(), 'Reset', cause)).statusCode.value).toBe(StatusCodes.BadInvalidState.value);
    const prep = await call(RM(), 'PrepareRecipe', [
      await ext(3002, { id: recipe.id }),
      await ext(3013, { id: '' }),
    ]);
    expect(prep.statusCode.value).toBe(StatusCodes.BadInvalidState.value);
    expect((await call(VSM(), 'SelectModeAutomatic')).statusCode.value).toBe(StatusCodes.Good.value);
    expect(await system()).toBe('Operational');
    expect(await automatic()).toBe('Initialized');
  });

  it('recipe + single job: PrepareRecipe, StartSingleJob, ResultReady event, GetResultById, GetResultListFiltered', async () => {
    const list = await call(RM(), 'GetRecipeListFiltered', [
      await ext(3002, { id: '' }),
      await ext(3003, { id: '' }),
      new Variant({ dataType: DataType.Int32, value: -1 }),
      new Variant({ dataType: DataType.UInt32, value: 10 }),
      new Variant({ dataType: DataType.UInt32, value: 0 }),
      new Variant({ dataType: DataType.Int32, value: 0 }),
    ]);
    expect(list.statusCode.value).toBe(StatusCodes.Good.value);
    expect(list.outputArguments![1].value).toBe(1);
    const recipes = list.outputArguments![3].value as ExtensionObject[];
    expect((recipes[0] as unknown as { id: string }).id).toBe(recipe.id);

    const unknown = await call(RM(), 'PrepareRecipe', [
      await ext(3002, { id: 'nope' }),
      await ext(3013, { id: '' }),
    ]);
    expect(unknown.statusCode.value).toBe(StatusCodes.BadInvalidArgument.value);
    const prep = await call(RM(), 'PrepareRecipe', [
      await ext(3002, { id: recipe.id }),
      await ext(3013, { id: '' }),
    ]);
    expect(prep.statusCode.value).toBe(StatusCodes.Good.value);
    expect((prep.outputArguments![0].value as { id: string }).id).toBe(recipe.id);
    expect(prep.outputArguments![1].value).toBe(true);
    expect(await automatic()).toBe('Ready');

    // ResultReady events on the vision system.
    const subscription: ClientSubscription = await session.createSubscription2({
      requestedPublishingInterval: 50,
      requestedMaxKeepAliveCount: 20,
      requestedLifetimeCount: 600,
      publishingEnabled: true,
    });
    const events: Variant[][] = [];
    const item = await subscription.monitor(
      { nodeId: vs(), attributeId: AttributeIds.EventNotifier },
      {
        samplingInterval: 0,
        queueSize: 100,
        filter: constructEventFilter([
          'EventType',
          `${mv}:ResultId`,
          `${mv}:PartId`,
          `${mv}:JobId`,
          `${mv}:ResultState`,
          `${mv}:ProductId`,
        ]),
      },
      TimestampsToReturn.Neither,
    );
    item.on('changed', (fields: Variant[]) => events.push(fields));

    const job = await call(ASM(), 'StartSingleJob', await jobArgs('P-42', 'prod-A'));
    expect(job.statusCode.value).toBe(StatusCodes.Good.value);
    const jobId = (job.outputArguments![0].value as { id: string }).id;
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await automatic()).toBe('SingleExecution');
    // One job at a time: a second start while executing is refused.
    expect((await call(ASM(), 'StartSingleJob', await jobArgs('P-43', 'prod-A'))).statusCode.value).toBe(
      StatusCodes.BadInvalidState.value,
    );
    await waitFor(() => events.length >= 1, 30_000, 'ResultReady event');
    const ev = events[0];
    const resultId = (ev[1].value as { id: string }).id;
    expect((ev[2].value as { id: string }).id).toBe('P-42');
    expect((ev[3].value as { id: string }).id).toBe(jobId);
    expect([1, 2]).toContain(ev[4].value);
    expect((ev[5].value as { id: string }).id).toBe('prod-A');
    expect(await automatic()).toBe('Ready');

    const byId = await call(RES(), 'GetResultById', [
      await ext(3021, { id: resultId }),
      new Variant({ dataType: DataType.Int32, value: 0 }),
    ]);
    expect(byId.statusCode.value).toBe(StatusCodes.Good.value);
    const result = byId.outputArguments![1].value as Record<string, unknown> & { resultContent: Variant[] };
    expect((result.partId as { id: string }).id).toBe('P-42');
    expect((result.jobId as { id: string }).id).toBe(jobId);
    expect((result.productId as { id: string }).id).toBe('prod-A');
    expect(result.resultState).toBe(2); // grey 200 → score 0.78 > 0.5: NOK
    const content = JSON.parse(result.resultContent[0].value as string);
    expect(content).toMatchObject({ resultId, partId: 'P-42', verdict: 'NOK' });
    expect(content.score).toBeCloseTo(200 / 255, 4);

    const components = await call(RES(), 'GetResultComponentsById', [
      await ext(3021, { id: resultId }),
      new Variant({ dataType: DataType.Int32, value: 0 }),
    ]);
    expect(components.statusCode.value).toBe(StatusCodes.Good.value);
    expect(components.outputArguments![4].value).toBe(2);
    expect((components.outputArguments![6].value as { id: string }).id).toBe('P-42');
    expect((components.outputArguments![12].value as { id: string }).id).toBe(jobId);

    const missing = await call(RES(), 'GetResultById', [
      await ext(3021, { id: 'no-such-result' }),
      new Variant({ dataType: DataType.Int32, value: 0 }),
    ]);
    expect(missing.statusCode.value).toBe(StatusCodes.BadNotFound.value);

    const filtered = await call(RES(), 'GetResultListFiltered', [
      new Variant({ dataType: DataType.Int32, value: 0 }),
      await ext(3015, { id: '' }),
      await ext(3004, { id: 'P-42' }),
      await ext(3002, { id: '' }),
      await ext(3013, { id: '' }),
      await ext(3008, { id: '' }),
      await ext(3008, { id: '' }),
      await ext(3003, { id: '' }),
      await ext(3016, { id: '' }),
      new Variant({ dataType: DataType.UInt32, value: 10 }),
      new Variant({ dataType: DataType.UInt32, value: 0 }),
      new Variant({ dataType: DataType.Int32, value: 0 }),
    ]);
    expect(filtered.statusCode.value).toBe(StatusCodes.Good.value);
    expect(filtered.outputArguments![1].value).toBe(1);

    // Continuous execution reports every station result under the job; Stop returns to Ready.
    const cont = await call(ASM(), 'StartContinuous', await jobArgs('', 'prod-B'));
    expect(cont.statusCode.value).toBe(StatusCodes.Good.value);
    expect(await automatic()).toBe('ContinuousExecution');
    const r = await stack.service.submit(frame('st1', 'folder-part-1', 20));
    server.onResult(r);
    await waitFor(() => events.length >= 2, 30_000, 'continuous ResultReady');
    expect((events[1][2].value as { id: string }).id).toBe('folder-part-1');
    expect(events[1][4].value).toBe(1);
    expect((await call(ASM(), 'Stop', cause)).statusCode.value).toBe(StatusCodes.Good.value);
    expect(await automatic()).toBe('Ready');
    expect((await call(ASM(), 'Abort', cause)).statusCode.value).toBe(StatusCodes.BadInvalidState.value);

    const unprep = await call(RM(), 'UnprepareRecipe', [
      await ext(3002, { id: recipe.id }),
      await ext(3013, { id: '' }),
    ]);
    expect(unprep.statusCode.value).toBe(StatusCodes.Good.value);
    expect(await automatic()).toBe('Initialized');
    await subscription.terminate();
  });
});
