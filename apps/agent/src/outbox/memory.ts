import type { InspectionResult } from '@diad/protocol';
import { checkCapacity, encodeResult, type Outbox, type OutboxEntry, OutboxFullError } from './types.js';

/** Non-durable outbox (tests, and agents configured without a disk). Same contract as the SQLite one. */
export class MemoryOutbox implements Outbox {
  private readonly entries = new Map<number, { entry: OutboxEntry; bytes: number }>();
  private readonly ids = new Set<string>();
  private nextSeq = 1;
  private used = 0;

  constructor(readonly capacityBytes: number) {
    checkCapacity(capacityBytes);
  }

  append(result: InspectionResult): number {
    if (this.ids.has(result.resultId)) {
      for (const { entry } of this.entries.values())
        if (entry.result.resultId === result.resultId) return entry.seq;
    }
    const bytes = Buffer.byteLength(encodeResult(result));
    if (this.used + bytes > this.capacityBytes) throw new OutboxFullError(this.used, this.capacityBytes);
    const seq = this.nextSeq++;
    this.entries.set(seq, { entry: { seq, result: structuredClone(result) }, bytes });
    this.ids.add(result.resultId);
    this.used += bytes;
    return seq;
  }

  peek(limit: number, afterSeq = 0, station?: string): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const { entry } of this.entries.values()) {
      if (out.length >= limit) break;
      if (entry.seq > afterSeq && (station === undefined || entry.result.station === station))
        out.push({ seq: entry.seq, result: structuredClone(entry.result) });
    }
    return out;
  }

  private readonly aside: Array<{ resultId: string; station: string; reason: string; at: string }> = [];

  setAside(seq: number, reason: string): void {
    const e = this.entries.get(seq);
    if (!e) return;
    this.ack([seq]);
    this.aside.push({
      resultId: e.entry.result.resultId,
      station: e.entry.result.station,
      reason: reason.slice(0, 1000),
      at: new Date().toISOString(),
    });
  }

  setAsideList(limit = 100) {
    return this.aside.slice(-limit).reverse();
  }

  setAsideCount(): number {
    return this.aside.length;
  }

  ack(seqs: readonly number[]): void {
    for (const seq of seqs) {
      const e = this.entries.get(seq);
      if (!e) continue;
      this.entries.delete(seq);
      this.ids.delete(e.entry.result.resultId);
      this.used -= e.bytes;
    }
  }

  depth(station?: string): number {
    if (station === undefined) return this.entries.size;
    let n = 0;
    for (const { entry } of this.entries.values()) if (entry.result.station === station) n++;
    return n;
  }

  usedBytes(): number {
    return this.used;
  }

  close(): void {}
}
