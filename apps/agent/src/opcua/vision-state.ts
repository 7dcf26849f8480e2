/**
 * The OPC 40100-1 (Machine Vision) system state machine, without OPC UA: VisionStateMachineType's
 * Preoperational / Operational / Halted / Error with, inside Operational, VisionAutomaticModeStateMachineType's
 * Initialized / Ready / SingleExecution / ContinuousExecution. Every change is named after the transition
 * object of the nodeset (e.g. "ReadyToSingleExecution"), so the OPC UA layer can report it as such. A method
 * called in a state where the nodeset has no transition for it throws VisionStateError (Bad_InvalidState).
 */
export type SystemState = 'Preoperational' | 'Operational' | 'Halted' | 'Error';
export type AutomaticState = 'Initialized' | 'Ready' | 'SingleExecution' | 'ContinuousExecution';

export class VisionStateError extends Error {
  override name = 'VisionStateError';
  constructor(
    readonly method: string,
    readonly state: string,
  ) {
    super(`${method} is not allowed in state ${state}`);
  }
}

export interface VisionTransition {
  machine: 'system' | 'automatic';
  name: string;
  from: string;
  to: string;
}

export interface VisionStateView {
  system: SystemState;
  /** Only while Operational (automatic mode). */
  automatic: AutomaticState | null;
}

export class VisionStateMachine {
  private system: SystemState = 'Preoperational';
  private automatic: AutomaticState | null = null;
  private readonly prepared = new Set<string>();

  constructor(private readonly onTransition: (t: VisionTransition, v: VisionStateView) => void = () => {}) {}

  view(): VisionStateView {
    return { system: this.system, automatic: this.automatic };
  }

  get preparedRecipes(): string[] {
    return [...this.prepared];
  }

  private where(): string {
    return this.automatic ? `${this.system}.${this.automatic}` : this.system;
  }

  private setSystem(to: SystemState, name: string) {
    const from = this.system;
    this.system = to;
    if (to !== 'Operational') {
      this.automatic = null;
      this.prepared.clear();
    }
    this.onTransition({ machine: 'system', name, from, to }, this.view());
  }

  private setAutomatic(to: AutomaticState, name: string) {
    const from = this.automatic ?? '';
    this.automatic = to;
    this.onTransition({ machine: 'automatic', name, from, to }, this.view());
  }

  private requireAutomatic(method: string, ...allowed: AutomaticState[]): AutomaticState {
    if (this.system !== 'Operational' || !this.automatic || !allowed.includes(this.automatic))
      throw new VisionStateError(method, this.where());
    return this.automatic;
  }

  // --- VisionStateMachineType methods -------------------------------------------------------------------

  /** Preoperational → Operational (automatic mode, Initialized). */
  selectModeAutomatic(auto = false) {
    if (this.system !== 'Preoperational') throw new VisionStateError('SelectModeAutomatic', this.where());
    this.setSystem('Operational', auto ? 'PreoperationalToOperationalAuto' : 'PreoperationalToOperational');
    this.setAutomatic('Initialized', 'Initialized');
  }

  /** Any state but Halted → Halted. */
  halt(auto = false) {
    if (this.system === 'Halted') throw new VisionStateError('Halt', this.where());
    this.setSystem('Halted', `${this.system}ToHalted${auto ? 'Auto' : ''}`);
  }

  /** Operational, Halted or Error → Preoperational. */
  reset(auto = false) {
    if (this.system === 'Preoperational') throw new VisionStateError('Reset', this.where());
    this.setSystem('Preoperational', `${this.system}ToPreoperational${auto ? 'Auto' : ''}`);
  }

  /** Preoperational or Operational → Error (the system cannot inspect, e.g. no model loaded). */
  fail() {
    if (this.system === 'Error' || this.system === 'Halted') return;
    this.setSystem('Error', `${this.system}ToErrorAuto`);
  }

  /** Error → Operational once the cause is gone (automatic mode restarts in Initialized). */
  recover() {
    if (this.system !== 'Error') return;
    this.setSystem('Operational', 'ErrorToOperationalAuto');
    this.setAutomatic('Initialized', 'Initialized');
  }

  // --- VisionAutomaticModeStateMachineType / RecipeManagementType methods ----------------------------------

  prepareRecipe(id: string) {
    const s = this.requireAutomatic('PrepareRecipe', 'Initialized', 'Ready');
    this.prepared.add(id);
    if (s === 'Initialized') this.setAutomatic('Ready', 'InitializedToReadyRecipe');
  }

  unprepareRecipe(id: string): boolean {
    this.requireAutomatic('UnprepareRecipe', 'Initialized', 'Ready');
    const had = this.prepared.delete(id);
    if (had && this.prepared.size === 0 && this.automatic === 'Ready')
      this.setAutomatic('Initialized', 'ReadyToInitializedRecipe');
    return had;
  }

  startSingleJob() {
    this.requireAutomatic('StartSingleJob', 'Ready');
    this.setAutomatic('SingleExecution', 'ReadyToSingleExecution');
  }

  startContinuous() {
    this.requireAutomatic('StartContinuous', 'Ready');
    this.setAutomatic('ContinuousExecution', 'ReadyToContinuousExecution');
  }

  /** The single job produced its result. */
  jobDone() {
    if (this.system === 'Operational' && this.automatic === 'SingleExecution')
      this.setAutomatic('Ready', 'SingleExecutionToReadyAuto');
  }

  stop() {
    const s = this.requireAutomatic('Stop', 'SingleExecution', 'ContinuousExecution');
    this.setAutomatic('Ready', `${s}ToReadyStop`);
  }

  abort() {
    const s = this.requireAutomatic('Abort', 'SingleExecution', 'ContinuousExecution');
    this.setAutomatic('Ready', `${s}ToReadyAbort`);
  }
}
