import type { InspectionResult } from '@diad/protocol';

/**
 * The Modbus TCP register map (docs/plc.md). Station k (0-based, in config order) uses addresses
 * `k * STATION_STRIDE + offset` in each of the four tables; every address is 0-based (PLC tools that count
 * from 1 show coil 0 as 00001, input register 0 as 30001, holding register 0 as 40001).
 */
export const STATION_STRIDE = 100;

/** Coils (FC1 read, FC5/FC15 write): written by the PLC, cleared by the agent once taken. */
export const COIL = { Trigger: 0, Ack: 1 } as const;

/** Discrete inputs (FC2), also bits 0..6 of input register StatusWord. */
export const STATUS_BIT = {
  Ready: 0,
  Busy: 1,
  ResultReady: 2,
  OK: 3,
  NOK: 4,
  Error: 5,
  TriggerRejected: 6,
} as const;

/** Holding registers (FC3 read, FC6/FC16 write): the PLC's request. */
export const HOLDING = { Sequence: 0, PartId: 1 } as const;
export const PART_ID_REGISTERS = 16; // 32 ASCII characters

/** Input registers (FC4): the agent's answer. Float32 values are IEEE 754, high word first (ABCD). */
export const INPUT = {
  StatusWord: 0,
  AcceptedSequence: 1,
  ResultSequence: 2,
  ErrorCode: 3,
  Score: 4,
  NormalizedScore: 6,
  ProcessingTimeMs: 8,
  ResultCounter: 9,
  RejectCode: 10,
  ResultPartId: 11,
} as const;
export const INPUT_REGISTERS = INPUT.ResultPartId + PART_ID_REGISTERS; // 27

/** ErrorCode (of the presented result) and RejectCode (of the last refused trigger or acknowledgement). */
export const ERROR_CODE = {
  None: 0,
  InspectionError: 1,
  Overrun: 2,
  CaptureFailed: 3,
  NoResult: 4,
  TriggerWhileBusy: 10,
  NotReady: 11,
  ResultNotAcknowledged: 12,
  AckWithoutResult: 13,
} as const;

/** ASCII (bytes >= 0x80 become '?'), two characters per register, high byte first, NUL padded. */
export function encodeString(s: string, registers: number): number[] {
  const out = new Array<number>(registers).fill(0);
  for (let i = 0; i < Math.min(s.length, registers * 2); i++) {
    const c = s.charCodeAt(i);
    const b = c < 0x80 ? c : 0x3f;
    out[i >> 1] |= i % 2 === 0 ? b << 8 : b;
  }
  return out;
}

export function decodeString(regs: readonly number[]): string {
  let s = '';
  for (const r of regs) {
    for (const b of [(r >> 8) & 0xff, r & 0xff]) {
      if (b === 0) return s;
      s += String.fromCharCode(b);
    }
  }
  return s;
}

const f32 = Buffer.alloc(4);
export function encodeFloat32(v: number): [number, number] {
  f32.writeFloatBE(v, 0);
  return [f32.readUInt16BE(0), f32.readUInt16BE(2)];
}

export function decodeFloat32(hi: number, lo: number): number {
  f32.writeUInt16BE(hi & 0xffff, 0);
  f32.writeUInt16BE(lo & 0xffff, 2);
  return f32.readFloatBE(0);
}

export function errorCodeOf(r: InspectionResult): number {
  if (r.state === 'overrun') return ERROR_CODE.Overrun;
  if (r.state !== 'error') return ERROR_CODE.None;
  const code = r.error?.code ?? '';
  if (code === 'NO_CAMERA' || code === 'NO_FRAME') return ERROR_CODE.CaptureFailed;
  return ERROR_CODE.InspectionError;
}
