import type { InspectionResult } from '@diad/protocol';

export interface OutboxEntry {
  seq: number;
  result: InspectionResult;
}

/**
 * Durable queue of results not yet delivered. Contract (test/outbox.contract.ts runs it on every
 * implementation):
 * - append() returns only once the result is stored (for SQLite: committed); appending a resultId that is
 *   already pending is a no-op (idempotent ids).
 * - peek() returns entries oldest first (so each station's results stay in order), starting after `afterSeq`,
 *   optionally only those of one station.
 * - ack() removes delivered entries; unknown seqs are ignored.
 * - Disk policy: the payload bytes of pending results never exceed `capacityBytes`; append() then throws
 *   OutboxFullError and nothing already stored is evicted (undelivered results are never deleted).
 */
export interface Outbox {
  readonly capacityBytes: number;
  append(result: InspectionResult): number;
  peek(limit: number, afterSeq?: number, station?: string): OutboxEntry[];
  depth(station?: string): number;
  ack(seqs: readonly number[]): void;
  /**
   * Moves a result the receiver refused for good (a poison result) out of the queue into a set-aside list with the
   * reason, so the results behind it keep flowing. Unknown seqs are ignored.
   */
  setAside(seq: number, reason: string): void;
  /** Results set aside, newest first (at most `limit`). */
  setAsideList(limit?: number): Array<{ resultId: string; station: string; reason: string; at: string }>;
  setAsideCount(): number;
  usedBytes(): number;
  close(): void;
}

export class OutboxFullError extends Error {
  override name = 'OutboxFullError';
  constructor(
    readonly usedBytes: number,
    readonly capacityBytes: number,
    readonly reason: 'capacity' | 'disk full' = 'capacity',
  ) {
    super(
      reason === 'disk full'
        ? `outbox full: the disk is full (${usedBytes} bytes of undelivered results stored)`
        : `outbox full: ${usedBytes} of ${capacityBytes} bytes used by undelivered results`,
    );
  }
}

/**
 * A result the receiver will never take (invalid, refused by the control plane for itself): the drainer sets it
 * aside in the outbox instead of retrying it forever.
 */
export class RefusedResultError extends Error {
  override name = 'RefusedResultError';
  constructor(
    readonly resultId: string,
    readonly reason: string,
  ) {
    super(`result ${resultId} refused: ${reason}`);
  }
}

export function encodeResult(result: InspectionResult): string {
  return JSON.stringify(result);
}

export function checkCapacity(capacityBytes: number) {
  if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 1024) {
    throw new RangeError(`outbox: capacityBytes: expected an integer >= 1024, got ${capacityBytes}`);
  }
}
