import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InspectionResult } from '@diad/protocol';
import {
  type AddressSpace,
  DataType,
  type ExtensionObject,
  type INamespace,
  nodesets,
  promoteToStateMachine,
  StatusCodes,
  type UAMethod,
  type UAObject,
  type UAStateMachineEx,
  Variant,
  VariantArrayType,
} from 'node-opcua';
import type { Logger } from 'pino';
import { VisionStateError, VisionStateMachine, type VisionStateView } from './vision-state.js';

export const MACHINE_VISION_URI = 'http://opcfoundation.org/UA/MachineVision';
const MACHINERY_URI = 'http://opcfoundation.org/UA/Machinery/';

/** A recipe as the vision system offers it: model version + thresholds + category. */
export interface VisionRecipe {
  /** External and internal recipe id, e.g. "diad-synth-tiny@1.2.0#bottle". */
  id: string;
  modelName: string;
  modelVersion: string;
  modelSha256: string;
  category: string | null;
  thresholds: { version: number; image: number | null; pixel: number | null };
}

export interface MachineVisionOptions {
  stations: string[];
  resultBufferSize: number;
  recipes: (station: string) => VisionRecipe[];
  trigger: (station: string, partId: string) => Promise<InspectionResult>;
  canAccept: (station: string) => boolean;
  logger: Logger;
}

/**
 * Nodesets the server loads for OPC 40100: ours second, so the agent namespace keeps index 2 (index 1 is the
 * server's own namespace), then DI, IA, Machinery and MachineVision. Returns the files and a clean-up.
 */
export function machineVisionNodesets(agentNamespaceUri: string): { files: string[]; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'diad-nodeset-'));
  const own = join(dir, 'diad-agent.NodeSet2.xml');
  writeFileSync(
    own,
    `<?xml version="1.0" encoding="utf-8"?>
<UANodeSet xmlns="http://opcfoundation.org/UA/2011/03/UANodeSet.xsd">
  <NamespaceUris><Uri>${agentNamespaceUri}</Uri></NamespaceUris>
  <Models>
    <Model ModelUri="${agentNamespaceUri}" Version="1.0.0" PublicationDate="2026-12-07T00:00:00Z">
      <RequiredModel ModelUri="http://opcfoundation.org/UA/" Version="1.04" PublicationDate="2018-05-15T00:00:00Z" />
    </Model>
  </Models>
  <Aliases />
</UANodeSet>
`,
  );
  return {
    files: [nodesets.standard, own, nodesets.di, nodesets.ia, nodesets.machinery, nodesets.machineVision],
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** ResultStateDataType values used here (OPC 40100 leaves the meaning of values > 0 to the system). */
export const RESULT_STATE = { ok: 1, nok: 2, error: -1, overrun: -2 } as const;

interface StoredResult {
  result: InspectionResult;
  jobId: string;
  measId: string;
  productId: string;
  recipeId: string;
  startedAt: Date;
}

// biome-ignore lint/suspicious/noExplicitAny: node-opcua method arguments arrive as decoded structures.
type Struct = any;

/** One VisionSystemType instance (OPC 40100-1) per station, driven by the pure VisionStateMachine. */
export class StationVisionSystem {
  readonly state: VisionStateMachine;
  private readonly results: StoredResult[] = [];
  private readonly waiters = new Set<() => void>();
  private continuousJob: { jobId: string; measId: string; productId: string; recipeId: string } | null = null;
  private singleJob: { jobId: string; aborted: boolean } | null = null;
  private systemSm!: UAStateMachineEx;
  private autoSm!: UAStateMachineEx;
  readonly node: UAObject;
  private readonly mv: number;
  private stopped = false;
  /** Set once the agent moved it to Operational at start (a later Reset leaves it Preoperational). */
  startedOnce = false;

  constructor(
    private readonly as: AddressSpace,
    ns: INamespace,
    readonly station: string,
    private readonly o: MachineVisionOptions,
  ) {
    this.mv = as.getNamespaceIndex(MACHINE_VISION_URI);
    const type = as.findObjectType('VisionSystemType', this.mv);
    if (!type) throw new Error('VisionSystemType not found: the MachineVision nodeset is not loaded');
    const machinery = as.getNamespaceIndex(MACHINERY_URI);
    const machines = machinery >= 0 ? (as.findNode(`ns=${machinery};i=1001`) as UAObject | null) : null;
    this.node = type.instantiate({
      namespace: ns,
      browseName: { name: station, namespaceIndex: ns.index },
      nodeId: `ns=${ns.index};s=VisionSystem.${station}`,
      organizedBy: machines ?? as.rootFolder.objects,
      optionals: [
        'RecipeManagement',
        'ResultManagement',
        'VisionStateMachine.AutomaticModeStateMachine',
        'VisionStateMachine.SelectModeAutomatic',
      ],
      eventNotifier: 1,
    }) as UAObject;
    // Events raised here reach clients subscribed on the Server object too.
    as.rootFolder.objects.server.addReference({ referenceType: 'HasNotifier', nodeId: this.node.nodeId });

    const vsm = this.child(this.node, 'VisionStateMachine') as UAObject;
    const asm = this.child(vsm, 'AutomaticModeStateMachine') as UAObject;
    this.systemSm = promoteToStateMachine(vsm);
    this.autoSm = promoteToStateMachine(asm);
    this.state = new VisionStateMachine((t, v) => this.showState(v, t.name));
    this.showState(this.state.view(), '');
    this.bindMethods(vsm, asm);
  }

  private child(parent: UAObject, name: string) {
    const c = parent.getChildByName(name, this.mv);
    if (!c) throw new Error(`${parent.browseName.toString()} has no ${name}`);
    return c;
  }

  private method(parent: UAObject, name: string): UAMethod {
    return parent.getMethodByName(name, this.mv) as UAMethod;
  }

  /** Shows the state on CurrentState (and LastTransition), naming the nodeset transition that was taken. */
  private showState(v: VisionStateView, transition: string) {
    if (this.stopped || !this.systemSm) return;
    const pick = (ts: { browseName: { name: string | null } }[]) =>
      ts.find((t) => t.browseName.name === transition) ?? ts[0] ?? null;
    const select = pick as unknown as Parameters<UAStateMachineEx['setState']>[1];
    if (this.systemSm.getCurrentState() !== v.system) this.systemSm.setState(v.system, select);
    const auto = this.autoSm.getCurrentState();
    if (v.automatic && auto !== v.automatic) this.autoSm.setState(v.automatic, select);
    else if (!v.automatic && auto) this.autoSm.setState(null);
  }

  private ext(typeName: string, fields: Record<string, unknown>): ExtensionObject {
    const dt = this.as.findDataType(typeName, this.mv);
    if (!dt) throw new Error(`data type ${typeName} not found`);
    return this.as.constructExtensionObject(dt, fields);
  }

  private idOf(s: Struct): string {
    return typeof s?.id === 'string' ? s.id.trim() : '';
  }

  private guard<T>(fn: () => T): T | { statusCode: typeof StatusCodes.BadInvalidState } {
    try {
      return fn();
    } catch (e) {
      if (e instanceof VisionStateError) {
        this.o.logger.debug({ station: this.station, err: e.message }, 'OPC 40100 call refused');
        return { statusCode: StatusCodes.BadInvalidState };
      }
      throw e;
    }
  }

  private ok(...outputArguments: Variant[]) {
    return { statusCode: StatusCodes.Good, outputArguments };
  }

  private int32(v: number) {
    return new Variant({ dataType: DataType.Int32, value: v });
  }

  private bindMethods(vsm: UAObject, asm: UAObject) {
    const sm = this.state;
    const simple = (node: UAObject, name: string, fn: () => void) =>
      this.method(node, name).bindMethod(async (_args: Variant[], _context: unknown) =>
        this.guard(() => {
          fn();
          return this.ok(this.int32(0));
        }),
      );
    simple(vsm, 'Halt', () => {
      this.abortJobs();
      sm.halt();
    });
    simple(vsm, 'Reset', () => {
      this.abortJobs();
      sm.reset();
    });
    const sel = vsm.getMethodByName('SelectModeAutomatic', this.mv) as UAMethod | null;
    sel?.bindMethod(async (_args: Variant[], _context: unknown) =>
      this.guard(() => {
        sm.selectModeAutomatic();
        return this.ok(this.int32(0));
      }),
    );

    simple(asm, 'Stop', () => this.endJob('stop'));
    simple(asm, 'Abort', () => this.endJob('abort'));

    this.method(asm, 'StartSingleJob').bindMethod(async (args: Variant[], _context: unknown) =>
      this.guard(() => {
        const job = this.jobArgs(args);
        if ('statusCode' in job) return job;
        sm.startSingleJob();
        const startedAt = new Date();
        const single = { jobId: job.jobId, aborted: false };
        this.singleJob = single;
        let run: Promise<InspectionResult>;
        try {
          run = this.o.trigger(this.station, job.partId);
        } catch (e) {
          run = Promise.reject(e);
        }
        run.then(
          (r) => {
            if (!single.aborted) this.store({ ...job, result: r, startedAt });
            if (this.singleJob === single) {
              this.singleJob = null;
              this.state.jobDone();
            }
          },
          (err: Error) => {
            this.o.logger.error(
              { station: this.station, err: err.message },
              'OPC 40100 job produced no result',
            );
            if (this.singleJob === single) {
              this.singleJob = null;
              this.state.jobDone();
            }
          },
        );
        return this.ok(
          new Variant({
            dataType: DataType.ExtensionObject,
            value: this.ext('JobIdDataType', { id: job.jobId }),
          }),
          this.int32(0),
        );
      }),
    );

    this.method(asm, 'StartContinuous').bindMethod(async (args: Variant[], _context: unknown) =>
      this.guard(() => {
        const job = this.jobArgs(args);
        if ('statusCode' in job) return job;
        sm.startContinuous();
        this.continuousJob = {
          jobId: job.jobId,
          measId: job.measId,
          productId: job.productId,
          recipeId: job.recipeId,
        };
        return this.ok(
          new Variant({
            dataType: DataType.ExtensionObject,
            value: this.ext('JobIdDataType', { id: job.jobId }),
          }),
          this.int32(0),
        );
      }),
    );

    const rm = this.child(this.node, 'RecipeManagement') as UAObject;
    const recipeVariant = (r: VisionRecipe) =>
      this.ext('RecipeIdInternalDataType', {
        id: r.id,
        version: r.modelVersion,
        hash: Buffer.from(r.modelSha256, 'hex'),
        hashAlgorithm: 'SHA-256',
        description: {
          text: `model ${r.modelName} ${r.modelVersion}; category ${r.category ?? '-'}; thresholds v${r.thresholds.version} image ${r.thresholds.image ?? 'bundle'} pixel ${r.thresholds.pixel ?? 'bundle'}`,
        },
      });
    const recipeCall = (prepare: boolean) => async (args: Variant[], _context: unknown) =>
      this.guard(() => {
        const external = this.idOf(args[0]?.value);
        const internal = this.idOf(args[1]?.value);
        const id = external || internal;
        const recipe = this.o.recipes(this.station).find((r) => r.id === id);
        if (!recipe && prepare) return { statusCode: StatusCodes.BadInvalidArgument };
        if (prepare) sm.prepareRecipe(id);
        else if (!sm.unprepareRecipe(id)) {
          // Still subject to the state check above; an unknown or unprepared id is an argument error.
          return { statusCode: StatusCodes.BadInvalidArgument };
        }
        const out = [
          new Variant({
            dataType: DataType.ExtensionObject,
            value: recipeVariant(recipe ?? this.pseudoRecipe(id)),
          }),
        ];
        if (prepare) out.push(new Variant({ dataType: DataType.Boolean, value: true }));
        out.push(this.int32(0));
        return this.ok(...out);
      });
    this.method(rm, 'PrepareRecipe').bindMethod(recipeCall(true));
    this.method(rm, 'UnprepareRecipe').bindMethod(recipeCall(false));
    this.method(rm, 'GetRecipeListFiltered').bindMethod(async (args: Variant[], _context: unknown) => {
      const external = this.idOf(args[0]?.value);
      const isPrepared = Number(args[2]?.value ?? -1); // TriStateBoolean: -1 don't care, 0 false, 1 true
      const max = Number(args[3]?.value ?? 0) || Number.MAX_SAFE_INTEGER;
      const start = Number(args[4]?.value ?? 0);
      const prepared = new Set(sm.preparedRecipes);
      const all = this.o
        .recipes(this.station)
        .filter((r) => !external || r.id === external)
        .filter((r) => isPrepared < 0 || isPrepared > 1 || prepared.has(r.id) === (isPrepared === 1));
      const page = all.slice(start, start + max);
      return this.ok(
        new Variant({ dataType: DataType.Boolean, value: start + page.length >= all.length }),
        new Variant({ dataType: DataType.UInt32, value: all.length }),
        new Variant({ dataType: DataType.UInt32, value: 0 }),
        new Variant({
          dataType: DataType.ExtensionObject,
          arrayType: VariantArrayType.Array,
          value: page.map(recipeVariant),
        }),
        this.int32(0),
      );
    });

    const res = this.child(this.node, 'ResultManagement') as UAObject;
    this.method(res, 'GetResultById').bindMethod(async (args: Variant[], _context: unknown) => {
      const id = this.idOf(args[0]?.value);
      const timeout = Number(args[1]?.value ?? 0);
      const found = await this.waitFor(() => this.results.find((r) => r.result.resultId === id), timeout);
      if (!found) return { statusCode: StatusCodes.BadNotFound };
      return this.ok(
        new Variant({ dataType: DataType.UInt32, value: 0 }),
        new Variant({ dataType: DataType.ExtensionObject, value: this.resultData(found) }),
        this.int32(0),
      );
    });
    this.method(res, 'GetResultComponentsById').bindMethod(async (args: Variant[], _context: unknown) => {
      const found = await this.waitFor(
        () => this.results.find((r) => r.result.resultId === this.idOf(args[0]?.value)),
        Number(args[1]?.value ?? 0),
      );
      if (!found) return { statusCode: StatusCodes.BadNotFound };
      const r = found.result;
      const eo = (t: string, id: string) =>
        new Variant({ dataType: DataType.ExtensionObject, value: this.ext(t, { id }) });
      return this.ok(
        new Variant({ dataType: DataType.Boolean, value: false }),
        new Variant({ dataType: DataType.UInt32, value: 0 }),
        new Variant({ dataType: DataType.Boolean, value: false }),
        new Variant({ dataType: DataType.Boolean, value: false }),
        this.int32(RESULT_STATE[r.state]),
        eo('MeasIdDataType', found.measId),
        eo('PartIdDataType', r.partId),
        eo('RecipeIdExternalDataType', found.recipeId),
        eo('RecipeIdInternalDataType', found.recipeId),
        eo('ProductIdDataType', found.productId),
        eo('ConfigurationIdDataType', 'default'),
        eo('ConfigurationIdDataType', 'default'),
        eo('JobIdDataType', found.jobId),
        new Variant({ dataType: DataType.DateTime, value: new Date(Date.parse(r.inspectedAt)) }),
        new Variant({
          dataType: DataType.ExtensionObject,
          value: this.ext('ProcessingTimesDataType', {
            startTime: found.startedAt,
            endTime: new Date(Date.parse(r.inspectedAt)),
            processingDuration: Date.parse(r.inspectedAt) - Date.parse(r.capturedAt),
          }),
        }),
        new Variant({
          dataType: DataType.Variant,
          arrayType: VariantArrayType.Array,
          value: [new Variant({ dataType: DataType.String, value: JSON.stringify(r) })],
        }),
        this.int32(0),
      );
    });
    this.method(res, 'GetResultListFiltered').bindMethod(async (args: Variant[], _context: unknown) => {
      const state = Number(args[0]?.value ?? 0);
      const [measId, partId] = [this.idOf(args[1]?.value), this.idOf(args[2]?.value)];
      const [extRecipe, intRecipe] = [this.idOf(args[3]?.value), this.idOf(args[4]?.value)];
      const productId = this.idOf(args[7]?.value);
      const jobId = this.idOf(args[8]?.value);
      const max = Number(args[9]?.value ?? 0) || Number.MAX_SAFE_INTEGER;
      const start = Number(args[10]?.value ?? 0);
      const timeout = Number(args[11]?.value ?? 0);
      const match = () =>
        this.results.filter(
          (r) =>
            (!state || RESULT_STATE[r.result.state] === state) &&
            (!measId || r.measId === measId) &&
            (!partId || r.result.partId === partId) &&
            (!extRecipe || r.recipeId === extRecipe) &&
            (!intRecipe || r.recipeId === intRecipe) &&
            (!productId || r.productId === productId) &&
            (!jobId || r.jobId === jobId),
        );
      const all = (await this.waitFor(() => (match().length ? match() : undefined), timeout)) ?? [];
      const page = all.slice(start, start + max);
      return this.ok(
        new Variant({ dataType: DataType.Boolean, value: start + page.length >= all.length }),
        new Variant({ dataType: DataType.UInt32, value: all.length }),
        new Variant({ dataType: DataType.UInt32, value: 0 }),
        new Variant({
          dataType: DataType.ExtensionObject,
          arrayType: VariantArrayType.Array,
          value: page.map((r) => this.resultData(r)),
        }),
        this.int32(0),
      );
    });
  }

  private pseudoRecipe(id: string): VisionRecipe {
    return {
      id,
      modelName: '',
      modelVersion: '',
      modelSha256: '',
      category: null,
      thresholds: { version: 0, image: null, pixel: null },
    };
  }

  /** StartSingleJob / StartContinuous arguments: MeasId, PartId, RecipeId, ProductId, Parameters. */
  private jobArgs(args: Variant[]) {
    const measId = this.idOf(args[0]?.value);
    const partIdIn = this.idOf(args[1]?.value);
    const recipeId = this.idOf(args[2]?.value);
    const productId = this.idOf(args[3]?.value);
    const prepared = this.state.preparedRecipes;
    // An empty RecipeId means the (single) prepared recipe; a named one must be prepared.
    const recipe = recipeId || (prepared.length === 1 ? prepared[0] : '');
    if (this.state.view().automatic === 'Ready' && !prepared.includes(recipe))
      return { statusCode: StatusCodes.BadInvalidArgument };
    if (this.state.view().automatic === 'Ready' && !this.o.canAccept(this.station))
      return { statusCode: StatusCodes.BadResourceUnavailable };
    const partId = (partIdIn || measId || `job-${Date.now()}`).slice(0, 128);
    return { jobId: randomUUID(), measId, partId, productId, recipeId: recipe };
  }

  private endJob(how: 'stop' | 'abort') {
    if (how === 'stop') this.state.stop();
    else this.state.abort();
    if (this.singleJob) {
      // Stop keeps the result of the part being inspected; Abort discards it.
      if (how === 'abort') this.singleJob.aborted = true;
      this.singleJob = null;
    }
    this.continuousJob = null;
  }

  private abortJobs() {
    if (this.singleJob) this.singleJob.aborted = true;
    this.singleJob = null;
    this.continuousJob = null;
  }

  /** Every stored result of the station; reported as a job result while ContinuousExecution runs. */
  onStationResult(r: InspectionResult) {
    const job = this.continuousJob;
    if (!job || this.results.some((x) => x.result.resultId === r.resultId)) return;
    this.store({ ...job, result: r, startedAt: new Date(Date.parse(r.capturedAt)) });
  }

  private store(s: StoredResult) {
    this.results.push(s);
    while (this.results.length > this.o.resultBufferSize) this.results.shift();
    for (const w of [...this.waiters]) w();
    if (this.stopped) return;
    const r = s.result;
    const eventType = this.as.findEventType('ResultReadyEventType', this.mv);
    if (!eventType) return;
    const ext = (t: string, id: string) =>
      new Variant({ dataType: DataType.ExtensionObject, value: this.ext(t, { id }) });
    this.node.raiseEvent(eventType, {
      message: {
        dataType: DataType.LocalizedText,
        value: { text: `result ${r.resultId} for part ${r.partId}: ${r.verdict ?? r.state}` },
      },
      severity: { dataType: DataType.UInt16, value: r.verdict === 'NOK' || r.state === 'error' ? 500 : 100 },
      resultId: ext('ResultIdDataType', r.resultId),
      jobId: ext('JobIdDataType', s.jobId),
      partId: ext('PartIdDataType', r.partId),
      measId: ext('MeasIdDataType', s.measId),
      productId: ext('ProductIdDataType', s.productId),
      internalRecipeId: ext('RecipeIdInternalDataType', s.recipeId),
      externalRecipeId: ext('RecipeIdExternalDataType', s.recipeId),
      internalConfigurationId: ext('ConfigurationIdDataType', 'default'),
      externalConfigurationId: ext('ConfigurationIdDataType', 'default'),
      isPartial: { dataType: DataType.Boolean, value: false },
      isSimulated: { dataType: DataType.Boolean, value: false },
      resultState: { dataType: DataType.Int32, value: RESULT_STATE[r.state] },
      creationTime: { dataType: DataType.DateTime, value: new Date(Date.parse(r.inspectedAt)) },
      processingTimes: new Variant({
        dataType: DataType.ExtensionObject,
        value: this.ext('ProcessingTimesDataType', {
          startTime: s.startedAt,
          endTime: new Date(Date.parse(r.inspectedAt)),
          processingDuration: Date.parse(r.inspectedAt) - Date.parse(r.capturedAt),
        }),
      }),
      resultContent: new Variant({
        dataType: DataType.String,
        arrayType: VariantArrayType.Array,
        value: [JSON.stringify(r)],
      }),
    });
  }

  private resultData(s: StoredResult): ExtensionObject {
    const r = s.result;
    return this.ext('ResultDataType', {
      resultId: this.ext('ResultIdDataType', { id: r.resultId }),
      hasTransferableDataOnFile: false,
      isPartial: false,
      isSimulated: false,
      resultState: RESULT_STATE[r.state],
      measId: this.ext('MeasIdDataType', { id: s.measId }),
      partId: this.ext('PartIdDataType', { id: r.partId }),
      externalRecipeId: this.ext('RecipeIdExternalDataType', { id: s.recipeId }),
      internalRecipeId: this.ext('RecipeIdInternalDataType', { id: s.recipeId }),
      productId: this.ext('ProductIdDataType', { id: s.productId }),
      internalConfigurationId: this.ext('ConfigurationIdDataType', { id: 'default' }),
      jobId: this.ext('JobIdDataType', { id: s.jobId }),
      creationTime: new Date(Date.parse(r.inspectedAt)),
      processingTimes: this.ext('ProcessingTimesDataType', {
        startTime: s.startedAt,
        endTime: new Date(Date.parse(r.inspectedAt)),
        processingDuration: Date.parse(r.inspectedAt) - Date.parse(r.capturedAt),
      }),
      // Our full result (score, verdict, model, thresholds, error) as JSON, schema diad.result/v1.
      resultContent: [new Variant({ dataType: DataType.String, value: JSON.stringify(r) })],
    });
  }

  private waitFor<T>(find: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const now = find();
    if (now !== undefined || !(timeoutMs > 0)) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = () => {
        const v = find();
        if (v === undefined) return;
        clearTimeout(t);
        this.waiters.delete(done);
        resolve(v);
      };
      const t = setTimeout(
        () => {
          this.waiters.delete(done);
          resolve(undefined);
        },
        Math.min(timeoutMs, 60_000),
      );
      this.waiters.add(done);
    });
  }

  stop() {
    this.stopped = true;
  }
}
