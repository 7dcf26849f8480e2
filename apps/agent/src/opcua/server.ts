import { mkdirSync } from 'node:fs';
import type { InspectionResult } from '@diad/protocol';
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  type UAObject,
  type UAVariable,
  Variant,
} from 'node-opcua';
import type { Logger } from 'pino';
import { passwordChecker } from '../security/passwords.js';
import { HandshakeError, type HandshakeView, StationHandshake } from './handshake.js';
import { machineVisionNodesets, StationVisionSystem, type VisionRecipe } from './machine-vision.js';

export interface OpcuaServerOptions {
  port: number;
  securityModes: ('None' | 'Sign' | 'SignAndEncrypt')[];
  securityPolicies: ('Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss')[];
  allowAnonymous: boolean;
  users: { username: string; password?: string; passwordHash?: string }[];
  pkiDir: string;
  autoAcceptCertificates: boolean;
  resultBufferSize: number;
  samplingIntervalMs: number;
  /** How often the trust-list folders are re-read (0 = only on reloadTrustList()). */
  trustListReloadMs?: number;
  stations: string[];
  /** Runs one triggered inspection; resolves with the stored result. */
  trigger: (station: string, partId: string) => Promise<InspectionResult>;
  canAccept: (station: string) => boolean;
  /**
   * OPC 40100 Machine Vision: one VisionSystemType instance per station (Objects/Machines/<station>), next to
   * the DiAD namespace (docs/plc.md). Loads the DI, IA, Machinery and MachineVision nodesets (~3 s more start).
   */
  machineVision?: { recipes: (station: string) => VisionRecipe[] } | null;
  /** Agent-wide state shown under DiAD/Agent (refreshed on refresh() and every second). */
  agentStatus?: () => AgentView;
  logger: Logger;
}

export interface AgentView {
  ready: boolean;
  modelName: string;
  modelVersion: string;
  outboxDepth: number;
  outboxFull: boolean;
}

const AGENT_VARS = {
  Ready: DataType.Boolean,
  ModelName: DataType.String,
  ModelVersion: DataType.String,
  OutboxDepth: DataType.UInt32,
  OutboxFull: DataType.Boolean,
} as const;

/** Namespace URI of the agent's nodes; node ids are `ns=<index of this URI>;s=<station>.<Name>` (docs/opcua.md). */
export const DIAD_NAMESPACE_URI = 'urn:diad-edge:agent';

const VARS = {
  TriggerReady: DataType.Boolean,
  Busy: DataType.Boolean,
  ResultReady: DataType.Boolean,
  Ack: DataType.Boolean,
  BufferedResults: DataType.UInt32,
  PartId: DataType.String,
  ResultId: DataType.String,
  State: DataType.String,
  Verdict: DataType.String,
  Score: DataType.Double,
  NormalizedScore: DataType.Double,
  ModelVersion: DataType.String,
  ProcessingTimeMs: DataType.Double,
  Error: DataType.Boolean,
  ErrorCode: DataType.String,
  ErrorMessage: DataType.String,
} as const;
type VarName = keyof typeof VARS;

/**
 * OPC UA server for PLCs: one object per station with Trigger(PartId) and Ack() methods and the handshake
 * variables (modelled on OPC 40100 Machine Vision's ready/busy/result-ready pattern, simplified).
 */
export class AgentOpcuaServer {
  private server: OPCUAServer | null = null;
  private stopped = false;
  private certificates: OPCUACertificateManager | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  readonly handshakes = new Map<string, StationHandshake>();
  readonly visionSystems = new Map<string, StationVisionSystem>();
  private readonly vars = new Map<string, Map<VarName, UAVariable>>();
  private timers = new Set<NodeJS.Timeout>();

  constructor(private readonly o: OpcuaServerOptions) {}

  get endpointUrl(): string {
    return `opc.tcp://127.0.0.1:${this.o.port}`;
  }

  async start(): Promise<void> {
    const o = this.o;
    mkdirSync(o.pkiDir, { recursive: true });
    const serverCertificateManager = new OPCUACertificateManager({
      rootFolder: o.pkiDir,
      automaticallyAcceptUnknownCertificate: o.autoAcceptCertificates,
    });
    await serverCertificateManager.initialize();
    this.certificates = serverCertificateManager;
    // Hashed (scrypt), compared in constant time, failed logins throttled per user name.
    const isValidUser = passwordChecker(o.users);
    const extra = o.machineVision ? machineVisionNodesets(DIAD_NAMESPACE_URI) : null;
    const server = new OPCUAServer({
      port: o.port,
      ...(extra ? { nodeset_filename: extra.files } : {}),
      serverCertificateManager,
      securityModes: o.securityModes.map((m) => MessageSecurityMode[m]),
      securityPolicies: o.securityPolicies.map((p) => SecurityPolicy[p]),
      allowAnonymous: o.allowAnonymous,
      userManager: { isValidUser: (u: string, p: string) => isValidUser(u, p) },
      serverInfo: {
        applicationUri: 'urn:diad-edge:agent:server',
        productUri: 'urn:diad-edge:agent',
        applicationName: { text: 'DiAD Edge agent' },
      },
      buildInfo: { productName: 'DiAD Edge agent', manufacturerName: 'DiAD Edge' },
    });
    try {
      await server.initialize();
    } finally {
      extra?.cleanup();
    }
    const addressSpace = server.engine.addressSpace!;
    // With the 40100 nodesets our namespace comes from a nodeset loaded right after the server's own (index 2).
    const ns =
      addressSpace.getNamespaceIndex(DIAD_NAMESPACE_URI) >= 0
        ? addressSpace.getNamespace(DIAD_NAMESPACE_URI)
        : addressSpace.registerNamespace(DIAD_NAMESPACE_URI);
    const root = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'DiAD', nodeId: 's=DiAD' });
    for (const station of o.stations) this.addStation(ns, root, station);
    this.addAgentObject(ns, root);
    if (o.machineVision) {
      const mv = o.machineVision;
      for (const station of o.stations) {
        const vs = new StationVisionSystem(addressSpace, ns, station, {
          stations: o.stations,
          resultBufferSize: o.resultBufferSize,
          recipes: mv.recipes,
          trigger: o.trigger,
          canAccept: o.canAccept,
          logger: o.logger,
        });
        this.visionSystems.set(station, vs);
      }
      this.refreshVision();
    }
    await server.start();
    this.server = server;
    if (o.trustListReloadMs && o.trustListReloadMs > 0) {
      this.reloadTimer = setInterval(() => void this.reloadTrustList().catch(() => {}), o.trustListReloadMs);
      this.reloadTimer.unref();
    }
    o.logger.info({ endpoint: server.getEndpointUrl(), modes: o.securityModes }, 'OPC UA server listening');
  }

  /** OPC UA sessions open now. */
  get sessionCount(): number {
    return this.server?.currentSessionCount ?? 0;
  }

  /** Index of the agent namespace in the server's namespace array. */
  get namespaceIndex(): number {
    return this.server?.engine.addressSpace?.getNamespaceIndex(DIAD_NAMESPACE_URI) ?? -1;
  }

  /** Re-evaluates TriggerReady on every station (queue, outbox or model state changed). */
  refresh() {
    for (const h of this.handshakes.values()) h.refresh();
    this.refreshAgent();
    this.refreshVision();
  }

  /**
   * A loaded model makes each vision system Operational (automatically from Preoperational at start, or back
   * from Error); losing it puts an Operational system into Error. Halted stays Halted until Reset.
   */
  private refreshVision() {
    if (this.stopped || this.visionSystems.size === 0) return;
    const modelLoaded = this.o.agentStatus ? this.o.agentStatus().modelVersion !== '' : true;
    for (const vs of this.visionSystems.values()) {
      const s = vs.state.view().system;
      if (modelLoaded && s === 'Preoperational' && !vs.startedOnce) {
        vs.startedOnce = true;
        vs.state.selectModeAutomatic(true);
      } else if (modelLoaded && s === 'Error') vs.state.recover();
      else if (!modelLoaded && (s === 'Operational' || s === 'Preoperational')) vs.state.fail();
    }
  }

  /** Every stored result (any source): a vision system in ContinuousExecution reports it as a job result. */
  onResult(r: InspectionResult) {
    this.visionSystems.get(r.station)?.onStationResult(r);
  }

  private readonly agentVars = new Map<keyof typeof AGENT_VARS, UAVariable>();

  // biome-ignore lint/suspicious/noExplicitAny: node-opcua's Namespace/UAFolder types are wide; kept local.
  private addAgentObject(ns: any, root: any) {
    const obj: UAObject = ns.addObject({ organizedBy: root, browseName: 'Agent', nodeId: 's=Agent' });
    for (const [name, dataType] of Object.entries(AGENT_VARS) as [keyof typeof AGENT_VARS, DataType][]) {
      const v: UAVariable = ns.addVariable({
        componentOf: obj,
        browseName: name,
        nodeId: `s=Agent.${name}`,
        dataType,
        minimumSamplingInterval: this.o.samplingIntervalMs,
      });
      v.setValueFromSource(new Variant({ dataType, value: initial(dataType) }));
      this.agentVars.set(name, v);
    }
    this.refreshAgent();
    const t = setInterval(() => this.refreshAgent(), 1000);
    t.unref();
    this.timers.add(t as unknown as NodeJS.Timeout);
  }

  private refreshAgent() {
    if (this.stopped || !this.o.agentStatus || this.agentVars.size === 0) return;
    const a = this.o.agentStatus();
    const values: Record<keyof typeof AGENT_VARS, unknown> = {
      Ready: a.ready,
      ModelName: a.modelName,
      ModelVersion: a.modelVersion,
      OutboxDepth: a.outboxDepth,
      OutboxFull: a.outboxFull,
    };
    for (const [name, v] of this.agentVars) {
      if (v.readValue().value.value !== values[name])
        v.setValueFromSource(new Variant({ dataType: AGENT_VARS[name], value: values[name] }));
    }
  }

  /** Re-reads the trusted/, rejected/ and issuers/ folders (an admin moved a certificate). */
  async reloadTrustList(): Promise<void> {
    await this.certificates?.reloadCertificates();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const vs of this.visionSystems.values()) vs.stop();
    if (this.reloadTimer) clearInterval(this.reloadTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.server?.shutdown(0);
    this.server = null;
  }

  // biome-ignore lint/suspicious/noExplicitAny: node-opcua's Namespace/UAFolder types are wide; kept local.
  private addStation(ns: any, root: any, station: string) {
    const o = this.o;
    const obj: UAObject = ns.addObject({ organizedBy: root, browseName: station, nodeId: `s=${station}` });
    const vars = new Map<VarName, UAVariable>();
    for (const [name, dataType] of Object.entries(VARS) as [VarName, DataType][]) {
      const v: UAVariable = ns.addVariable({
        componentOf: obj,
        browseName: name,
        nodeId: `s=${station}.${name}`,
        dataType,
        minimumSamplingInterval: o.samplingIntervalMs,
        accessLevel: name === 'Ack' ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
        userAccessLevel: name === 'Ack' ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      });
      v.setValueFromSource(new Variant({ dataType, value: initial(dataType) }));
      vars.set(name, v);
    }
    this.vars.set(station, vars);
    const hs = new StationHandshake(
      station,
      o.resultBufferSize,
      () => o.canAccept(station),
      (view) => this.publishView(station, view),
      (fn) => {
        const t = setTimeout(
          () => {
            this.timers.delete(t);
            fn();
          },
          Math.max(o.samplingIntervalMs * 2, 50),
        );
        this.timers.add(t);
      },
    );
    this.handshakes.set(station, hs);

    // A PLC that cannot call methods acknowledges by writing Ack = true; the agent resets it to false.
    vars.get('Ack')!.on('value_changed', (dv) => {
      if (dv.value.value !== true) return;
      try {
        hs.ack();
      } catch (e) {
        o.logger.warn({ station, err: (e as Error).message }, 'Ack written with no result presented');
      }
      setImmediate(() =>
        vars.get('Ack')!.setValueFromSource(new Variant({ dataType: DataType.Boolean, value: false })),
      );
    });

    const trigger = ns.addMethod(obj, {
      browseName: 'Trigger',
      nodeId: `s=${station}.Trigger`,
      inputArguments: [
        {
          name: 'PartId',
          description: { text: 'Part identifier (1..128 characters)' },
          dataType: DataType.String,
        },
      ],
      outputArguments: [],
    });
    trigger.bindMethod(async (args: Variant[], _context: unknown) => {
      const partId = String(args[0]?.value ?? '');
      if (partId.length < 1 || partId.length > 128) return { statusCode: StatusCodes.BadInvalidArgument };
      try {
        hs.beginTrigger();
      } catch (e) {
        if (e instanceof HandshakeError) return { statusCode: StatusCodes.BadResourceUnavailable };
        throw e;
      }
      o.trigger(station, partId).then(
        (r) => hs.completeTrigger(r),
        (err: Error) => {
          o.logger.error({ station, partId, err: err.message }, 'triggered inspection produced no result');
          hs.failTrigger();
        },
      );
      return { statusCode: StatusCodes.Good, outputArguments: [] };
    });

    const ack = ns.addMethod(obj, {
      browseName: 'Acknowledge',
      nodeId: `s=${station}.Acknowledge`,
      inputArguments: [],
      outputArguments: [],
    });
    ack.bindMethod(async (_args: Variant[], _context: unknown) => {
      try {
        hs.ack();
        return { statusCode: StatusCodes.Good, outputArguments: [] };
      } catch {
        return { statusCode: StatusCodes.BadInvalidState };
      }
    });
    hs.refresh();
  }

  private publishView(station: string, v: HandshakeView) {
    const vars = this.vars.get(station);
    // After shutdown the address space is disposed; late outbox or model events must not touch it.
    if (!vars || this.stopped) return;
    const set = (name: VarName, value: unknown) => {
      const variable = vars.get(name)!;
      const current = variable.readValue().value.value;
      if (current !== value) variable.setValueFromSource(new Variant({ dataType: VARS[name], value }));
    };
    const r = v.result;
    // Result values first, ResultReady last: a PLC reacting to ResultReady reads a consistent result.
    if (r) {
      set('PartId', r.partId);
      set('ResultId', r.resultId);
      set('State', r.state);
      set('Verdict', r.verdict ?? '');
      set('Score', r.score ?? Number.NaN);
      set('NormalizedScore', r.normalizedScore ?? Number.NaN);
      set('ModelVersion', r.model?.version ?? '');
      set('ProcessingTimeMs', Date.parse(r.inspectedAt) - Date.parse(r.capturedAt));
      set('Error', r.state === 'error' || r.state === 'overrun');
      set('ErrorCode', r.error?.code ?? '');
      set('ErrorMessage', r.error?.message ?? '');
    }
    set('BufferedResults', v.bufferedResults);
    set('Busy', v.busy);
    set('TriggerReady', v.triggerReady);
    set('ResultReady', v.resultReady);
  }
}

function initial(t: DataType): unknown {
  if (t === DataType.Boolean) return false;
  if (t === DataType.String) return '';
  if (t === DataType.Double) return 0;
  return 0;
}
