import { describe, expect, it } from 'vitest';
import { VisionStateError, VisionStateMachine, type VisionTransition } from '../src/opcua/vision-state.js';

function machine() {
  const log: VisionTransition[] = [];
  const m = new VisionStateMachine((t) => log.push(t));
  return { m, log, names: () => log.map((t) => t.name) };
}

describe('OPC 40100 vision state machine (pure)', () => {
  it('starts Preoperational; SelectModeAutomatic enters Operational / Initialized', () => {
    const { m, names } = machine();
    expect(m.view()).toEqual({ system: 'Preoperational', automatic: null });
    m.selectModeAutomatic();
    expect(m.view()).toEqual({ system: 'Operational', automatic: 'Initialized' });
    expect(names()).toEqual(['PreoperationalToOperational', 'Initialized']);
  });

  it('recipe and job cycle: prepare → single job → result → continuous → stop/abort → unprepare', () => {
    const { m, names } = machine();
    m.selectModeAutomatic(true);
    m.prepareRecipe('r1');
    m.prepareRecipe('r2');
    expect(m.view().automatic).toBe('Ready');
    m.startSingleJob();
    expect(m.view().automatic).toBe('SingleExecution');
    m.jobDone();
    m.startSingleJob();
    m.stop();
    m.startSingleJob();
    m.abort();
    m.startContinuous();
    m.stop();
    m.startContinuous();
    m.abort();
    expect(m.unprepareRecipe('r1')).toBe(true);
    expect(m.view().automatic).toBe('Ready');
    expect(m.unprepareRecipe('nope')).toBe(false);
    m.unprepareRecipe('r2');
    expect(m.view()).toEqual({ system: 'Operational', automatic: 'Initialized' });
    expect(names()).toEqual([
      'PreoperationalToOperationalAuto',
      'Initialized',
      'InitializedToReadyRecipe',
      'ReadyToSingleExecution',
      'SingleExecutionToReadyAuto',
      'ReadyToSingleExecution',
      'SingleExecutionToReadyStop',
      'ReadyToSingleExecution',
      'SingleExecutionToReadyAbort',
      'ReadyToContinuousExecution',
      'ContinuousExecutionToReadyStop',
      'ReadyToContinuousExecution',
      'ContinuousExecutionToReadyAbort',
      'ReadyToInitializedRecipe',
    ]);
  });

  it('refuses methods the nodeset has no transition for (VisionStateError → Bad_InvalidState)', () => {
    const { m } = machine();
    expect(() => m.startSingleJob()).toThrow(VisionStateError);
    expect(() => m.prepareRecipe('r')).toThrow(/PrepareRecipe is not allowed in state Preoperational/);
    expect(() => m.reset()).toThrow(VisionStateError);
    m.selectModeAutomatic();
    expect(() => m.selectModeAutomatic()).toThrow(VisionStateError);
    expect(() => m.startSingleJob()).toThrow(/Operational\.Initialized/);
    expect(() => m.stop()).toThrow(VisionStateError);
    m.prepareRecipe('r');
    m.startSingleJob();
    expect(() => m.startSingleJob()).toThrow(VisionStateError);
    expect(() => m.startContinuous()).toThrow(VisionStateError);
    expect(() => m.prepareRecipe('r2')).toThrow(VisionStateError);
    expect(() => m.unprepareRecipe('r')).toThrow(VisionStateError);
  });

  it('Halt and Reset from every state; Error and recovery; leaving Operational forgets prepared recipes', () => {
    const { m, names } = machine();
    m.halt();
    expect(() => m.halt()).toThrow(VisionStateError);
    expect(() => m.selectModeAutomatic()).toThrow(VisionStateError);
    m.reset();
    m.selectModeAutomatic();
    m.prepareRecipe('r');
    m.fail();
    expect(m.view()).toEqual({ system: 'Error', automatic: null });
    expect(m.preparedRecipes).toEqual([]);
    m.recover();
    expect(m.view()).toEqual({ system: 'Operational', automatic: 'Initialized' });
    m.fail();
    m.halt();
    m.reset();
    m.selectModeAutomatic();
    m.reset();
    expect(names()).toEqual([
      'PreoperationalToHalted',
      'HaltedToPreoperational',
      'PreoperationalToOperational',
      'Initialized',
      'InitializedToReadyRecipe',
      'OperationalToErrorAuto',
      'ErrorToOperationalAuto',
      'Initialized',
      'OperationalToErrorAuto',
      'ErrorToHalted',
      'HaltedToPreoperational',
      'PreoperationalToOperational',
      'Initialized',
      'OperationalToPreoperational',
    ]);
  });
});
