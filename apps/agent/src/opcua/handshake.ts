import type { InspectionResult } from '@diad/protocol';

export interface HandshakeView {
  triggerReady: boolean;
  busy: boolean;
  resultReady: boolean;
  bufferedResults: number;
  result: InspectionResult | null;
}

export class HandshakeError extends Error {
  override name = 'HandshakeError';
  constructor(
    readonly code: 'NOT_READY' | 'NO_RESULT',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The PLC handshake of one station, independent of OPC UA. Results of triggered frames queue in a FIFO buffer;
 * the head is "presented" (ResultReady) until the PLC acknowledges it, so a slow PLC never reads the previous
 * part's result and never misses one. Triggers are refused (TriggerReady false) while the buffer plus the frames
 * still being inspected would overflow it.
 */
export class StationHandshake {
  private readonly buffer: InspectionResult[] = [];
  private pendingTriggers = 0;
  private presented = false;

  constructor(
    readonly station: string,
    private readonly bufferSize: number,
    private readonly canAccept: () => boolean,
    private readonly onChange: (v: HandshakeView) => void,
    /** Presents the next buffered result after a pause, so a PLC polling ResultReady sees the falling edge. */
    private readonly schedule: (fn: () => void) => void,
  ) {}

  view(): HandshakeView {
    return {
      triggerReady: this.canAccept() && this.buffer.length + this.pendingTriggers < this.bufferSize,
      busy: this.pendingTriggers > 0,
      resultReady: this.presented,
      bufferedResults: this.buffer.length,
      result: this.presented ? this.buffer[0] : null,
    };
  }

  /** A trigger was accepted; returns false (and changes nothing) when the station is not ready. */
  beginTrigger(): void {
    if (!this.view().triggerReady)
      throw new HandshakeError('NOT_READY', `station ${this.station}: not ready for a trigger`);
    this.pendingTriggers++;
    this.changed();
  }

  /** The triggered frame has its stored result (any state, including error). */
  completeTrigger(result: InspectionResult): void {
    this.pendingTriggers = Math.max(0, this.pendingTriggers - 1);
    this.buffer.push(result);
    if (!this.presented) this.presented = true;
    this.changed();
  }

  /** The trigger could not produce a result at all (e.g. outbox full). */
  failTrigger(): void {
    this.pendingTriggers = Math.max(0, this.pendingTriggers - 1);
    this.changed();
  }

  ack(): InspectionResult {
    if (!this.presented)
      throw new HandshakeError('NO_RESULT', `station ${this.station}: no result to acknowledge`);
    const done = this.buffer.shift()!;
    this.presented = false;
    this.changed();
    if (this.buffer.length > 0) {
      this.schedule(() => {
        if (!this.presented && this.buffer.length > 0) {
          this.presented = true;
          this.changed();
        }
      });
    }
    return done;
  }

  /** Re-evaluates TriggerReady (queue or outbox state changed). */
  refresh() {
    this.changed();
  }

  private changed() {
    this.onChange(this.view());
  }
}
