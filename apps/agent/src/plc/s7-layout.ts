import type { InspectionResult } from '@diad/protocol';

/**
 * Data-block layout of the S7 result output (docs/plc.md). Each station owns one DB:
 *
 *   header (16 bytes)
 *     0  DINT   WriteCounter  results written so far; raised only after the record is complete
 *     4  INT    Slots         number of records in the ring
 *     6  INT    LastSlot      slot of the newest record (0-based)
 *     8  DINT   reserved
 *     12 DINT   reserved
 *   record n (96 bytes each) at 16 + n * 96, n = (counter - 1) mod Slots
 *     0  DINT   Counter       WriteCounter value this record was written under
 *     4  INT    State         1 ok, 2 nok, 3 error, 4 overrun
 *     6  BYTE   Verdict       0 none, 1 OK, 2 NOK
 *     7  BYTE   reserved
 *     8  REAL   Score         NaN when there is none
 *     12 REAL   NormalizedScore
 *     16 DINT   ProcessingTimeMs
 *     20 INT    ErrorCode     same codes as Modbus (0 none, 1 inspection error, 2 overrun, 3 capture failed)
 *     22 INT    reserved
 *     24 STRING[32] PartId    (34 bytes: max length, actual length, characters)
 *     58 STRING[36] ResultId  (38 bytes)
 *
 * Numbers are big-endian, as S7 stores them.
 */
export const HEADER_BYTES = 16;
export const RECORD_BYTES = 96;
export const STATE_CODE = { ok: 1, nok: 2, error: 3, overrun: 4 } as const;

export function dbBytes(slots: number): number {
  return HEADER_BYTES + slots * RECORD_BYTES;
}

export function slotOf(counter: number, slots: number): number {
  return (counter - 1) % slots;
}

function writeS7String(buf: Buffer, at: number, max: number, s: string) {
  const ascii = Buffer.from(s.replace(/[^\x20-\x7e]/g, '?').slice(0, max), 'latin1');
  buf.writeUInt8(max, at);
  buf.writeUInt8(ascii.length, at + 1);
  ascii.copy(buf, at + 2);
}

function readS7String(buf: Buffer, at: number): string {
  const len = Math.min(buf.readUInt8(at + 1), buf.readUInt8(at));
  return buf.toString('latin1', at + 2, at + 2 + len);
}

export function errorCode(r: InspectionResult): number {
  if (r.state === 'overrun') return 2;
  if (r.state !== 'error') return 0;
  return r.error?.code === 'NO_CAMERA' || r.error?.code === 'NO_FRAME' ? 3 : 1;
}

export function encodeRecord(counter: number, r: InspectionResult): Buffer {
  const b = Buffer.alloc(RECORD_BYTES);
  b.writeInt32BE(counter | 0, 0);
  b.writeInt16BE(STATE_CODE[r.state], 4);
  b.writeUInt8(r.verdict === 'OK' ? 1 : r.verdict === 'NOK' ? 2 : 0, 6);
  b.writeFloatBE(r.score ?? Number.NaN, 8);
  b.writeFloatBE(r.normalizedScore ?? Number.NaN, 12);
  const ms = Date.parse(r.inspectedAt) - Date.parse(r.capturedAt);
  b.writeInt32BE(Math.max(0, Math.min(0x7fffffff, Math.round(ms || 0))), 16);
  b.writeInt16BE(errorCode(r), 20);
  writeS7String(b, 24, 32, r.partId);
  writeS7String(b, 58, 36, r.resultId);
  return b;
}

export function encodeHeader(counter: number, slots: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.writeInt32BE(counter | 0, 0);
  b.writeInt16BE(slots, 4);
  b.writeInt16BE(counter > 0 ? slotOf(counter, slots) : 0, 6);
  return b;
}

export interface DecodedRecord {
  counter: number;
  state: number;
  verdict: number;
  score: number;
  normalizedScore: number;
  processingTimeMs: number;
  errorCode: number;
  partId: string;
  resultId: string;
}

/** What a PLC program does with the DB: read a record (tests and docs use this as the reference). */
export function decodeRecord(db: Buffer, slot: number): DecodedRecord {
  const at = HEADER_BYTES + slot * RECORD_BYTES;
  const b = db.subarray(at, at + RECORD_BYTES);
  return {
    counter: b.readInt32BE(0),
    state: b.readInt16BE(4),
    verdict: b.readUInt8(6),
    score: b.readFloatBE(8),
    normalizedScore: b.readFloatBE(12),
    processingTimeMs: b.readInt32BE(16),
    errorCode: b.readInt16BE(20),
    partId: readS7String(b, 24),
    resultId: readS7String(b, 58),
  };
}

export function decodeHeader(db: Buffer): { writeCounter: number; slots: number; lastSlot: number } {
  return { writeCounter: db.readInt32BE(0), slots: db.readInt16BE(4), lastSlot: db.readInt16BE(6) };
}
