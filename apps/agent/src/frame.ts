/** A frame as the agent sees it: pixels (or encoded bytes) plus where and when it was taken. */
export interface RawFrame {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}
export type FrameInput = Uint8Array | RawFrame | string;

export interface Frame {
  site: string;
  line: string;
  station: string;
  camera: string;
  partId: string;
  capturedAt: number;
  category?: string;
  image: FrameInput;
}

export function isRawFrame(x: FrameInput): x is RawFrame {
  return typeof x === 'object' && !(x instanceof Uint8Array);
}
