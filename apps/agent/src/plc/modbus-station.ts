import type { InspectionResult } from '@diad/protocol';
import {
  COIL,
  ERROR_CODE,
  encodeFloat32,
  encodeString,
  errorCodeOf,
  HOLDING,
  INPUT,
  INPUT_REGISTERS,
  PART_ID_REGISTERS,
  STATUS_BIT,
} from './modbus-map.js';

export interface ModbusStationOptions {
  station: string;
  /** Runs one triggered inspection; resolves with the stored result. */
  trigger: (station: string, partId: string) => Promise<InspectionResult>;
  canAccept: () => boolean;
  onEvent?: (e: { kind: 'rejected' | 'result' | 'failed'; code?: number; sequence: number }) => void;
}

/**
 * The Modbus handshake of one station (no I/O here; the TCP server maps addresses onto it).
 * One inspection at a time: a Trigger edge is accepted only while Ready (not busy, no unacknowledged result,
 * model loaded, outbox not full). A refused trigger never disturbs the inspection in flight: it sets
 * TriggerRejected and RejectCode and is otherwise ignored. On acceptance the previous result's OK/NOK/Error
 * bits are cleared at once, so a PLC can never read the previous part's verdict as this part's.
 */
export class ModbusStation {
  private readonly holding = new Array<number>(1 + PART_ID_REGISTERS).fill(0);
  private readonly input = new Array<number>(INPUT_REGISTERS).fill(0);
  private busy = false;
  private resultReady = false;
  private ok = false;
  private nok = false;
  private error = false;
  private rejected = false;
  private resultCounter = 0;

  constructor(private readonly o: ModbusStationOptions) {}

  get ready(): boolean {
    return !this.busy && !this.resultReady && this.o.canAccept();
  }

  statusWord(): number {
    const bits: [number, boolean][] = [
      [STATUS_BIT.Ready, this.ready],
      [STATUS_BIT.Busy, this.busy],
      [STATUS_BIT.ResultReady, this.resultReady],
      [STATUS_BIT.OK, this.ok],
      [STATUS_BIT.NOK, this.nok],
      [STATUS_BIT.Error, this.error],
      [STATUS_BIT.TriggerRejected, this.rejected],
    ];
    return bits.reduce((w, [bit, on]) => (on ? w | (1 << bit) : w), 0);
  }

  /** Coils self-reset: the agent clears Trigger and Ack as soon as it has taken them. */
  readCoil(_offset: number): boolean {
    return false;
  }

  readDiscrete(offset: number): boolean {
    return offset >= 0 && offset < 16 ? (this.statusWord() & (1 << offset)) !== 0 : false;
  }

  readHolding(offset: number): number {
    return this.holding[offset] ?? 0;
  }

  readInput(offset: number): number {
    if (offset === INPUT.StatusWord) return this.statusWord();
    return this.input[offset] ?? 0;
  }

  writeHolding(offset: number, value: number): void {
    if (offset >= 0 && offset < this.holding.length) this.holding[offset] = value & 0xffff;
  }

  writeCoil(offset: number, value: boolean): void {
    if (!value) return;
    if (offset === COIL.Trigger) this.onTrigger();
    else if (offset === COIL.Ack) this.onAck();
  }

  private reject(code: number, sequence: number) {
    this.rejected = true;
    this.input[INPUT.RejectCode] = code;
    this.o.onEvent?.({ kind: 'rejected', code, sequence });
  }

  private onTrigger() {
    const sequence = this.holding[HOLDING.Sequence];
    if (this.busy) return this.reject(ERROR_CODE.TriggerWhileBusy, sequence);
    if (this.resultReady) return this.reject(ERROR_CODE.ResultNotAcknowledged, sequence);
    if (!this.o.canAccept()) return this.reject(ERROR_CODE.NotReady, sequence);
    const regs = this.holding.slice(HOLDING.PartId, HOLDING.PartId + PART_ID_REGISTERS);
    let partId = '';
    for (const r of regs) {
      const a = (r >> 8) & 0xff;
      const b = r & 0xff;
      if (a === 0) break;
      partId += String.fromCharCode(a);
      if (b === 0) break;
      partId += String.fromCharCode(b);
    }
    partId = partId.trim() || `${this.o.station}-seq-${sequence}`;
    this.busy = true;
    this.rejected = false;
    this.ok = this.nok = this.error = false;
    this.input[INPUT.RejectCode] = ERROR_CODE.None;
    this.input[INPUT.AcceptedSequence] = sequence;
    let done: Promise<InspectionResult>;
    try {
      done = this.o.trigger(this.o.station, partId);
    } catch (e) {
      done = Promise.reject(e);
    }
    done.then(
      (r) => this.present(sequence, partId, r),
      () => this.present(sequence, partId, null),
    );
  }

  private present(sequence: number, partId: string, r: InspectionResult | null) {
    const put = (at: number, values: number[]) => {
      for (let i = 0; i < values.length; i++) this.input[at + i] = values[i];
    };
    this.input[INPUT.ResultSequence] = sequence;
    this.input[INPUT.ErrorCode] = r ? errorCodeOf(r) : ERROR_CODE.NoResult;
    put(INPUT.Score, encodeFloat32(r?.score ?? Number.NaN));
    put(INPUT.NormalizedScore, encodeFloat32(r?.normalizedScore ?? Number.NaN));
    const ms = r ? Date.parse(r.inspectedAt) - Date.parse(r.capturedAt) : 0;
    this.input[INPUT.ProcessingTimeMs] = Math.max(0, Math.min(0xffff, Math.round(ms)));
    this.resultCounter = (this.resultCounter + 1) & 0xffff;
    this.input[INPUT.ResultCounter] = this.resultCounter;
    put(INPUT.ResultPartId, encodeString(r?.partId ?? partId, PART_ID_REGISTERS));
    this.ok = r?.verdict === 'OK';
    this.nok = r?.verdict === 'NOK';
    this.error = !r || r.state === 'error' || r.state === 'overrun';
    // Result registers first, then the bits: a PLC that sees ResultReady reads a complete result.
    this.busy = false;
    this.resultReady = true;
    this.o.onEvent?.({ kind: r ? 'result' : 'failed', sequence, code: this.input[INPUT.ErrorCode] });
  }

  private onAck() {
    if (!this.resultReady) {
      // Not a refused trigger: only RejectCode tells the PLC its acknowledgement had nothing to acknowledge.
      this.input[INPUT.RejectCode] = ERROR_CODE.AckWithoutResult;
      return;
    }
    this.resultReady = false;
    this.ok = this.nok = this.error = false;
  }
}
