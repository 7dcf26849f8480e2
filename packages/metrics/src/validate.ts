import type { MaskMap, ScoreMap } from './types.js';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return `a ${typeof value}`;
}

/** Checks scores and returns them as a float64 or float32 vector (no copy for typed arrays). */
export function checkScores(scores: unknown, name: string): Float32Array | Float64Array {
  if (scores instanceof Float32Array || scores instanceof Float64Array) {
    if (scores.length === 0) throw new RangeError(`${name} must not be empty`);
    for (let i = 0; i < scores.length; i++) {
      const v = scores[i];
      if (v - v !== 0) throw new RangeError(`${name}[${i}] must be a finite number, got ${v}`);
    }
    return scores;
  }
  if (!Array.isArray(scores)) {
    throw new TypeError(`${name} must be a Float32Array, Float64Array or number[], got ${describe(scores)}`);
  }
  if (scores.length === 0) throw new RangeError(`${name} must not be empty`);
  const out = new Float64Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    const v: unknown = scores[i];
    if (typeof v !== 'number') throw new TypeError(`${name}[${i}] must be a number, got ${describe(v)}`);
    if (!Number.isFinite(v)) throw new RangeError(`${name}[${i}] must be a finite number, got ${v}`);
    out[i] = v;
  }
  return out;
}

/** Checks 0/1 labels of the given length and returns them as a Uint8Array of 0/1. */
export function checkLabels(labels: unknown, name: string, length: number, lengthName: string): Uint8Array {
  if (!(labels instanceof Uint8Array) && !Array.isArray(labels)) {
    throw new TypeError(
      `${name} must be a Uint8Array, boolean[] or number[] of 0/1, got ${describe(labels)}`,
    );
  }
  if (labels.length !== length) {
    throw new RangeError(
      `${name} must have the same length as ${lengthName} (${length}), got ${labels.length}`,
    );
  }
  if (labels instanceof Uint8Array) {
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] > 1) throw new RangeError(`${name}[${i}] must be 0 or 1, got ${labels[i]}`);
    }
    return labels;
  }
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const v: unknown = labels[i];
    if (v === true || v === 1) out[i] = 1;
    else if (v === false || v === 0) out[i] = 0;
    else if (typeof v === 'boolean' || typeof v === 'number') {
      throw new RangeError(`${name}[${i}] must be 0 or 1, got ${v}`);
    } else throw new TypeError(`${name}[${i}] must be a boolean or 0/1, got ${describe(v)}`);
  }
  return out;
}

/** Requires both classes: a metric over one class is undefined. */
export function checkBothClasses(negatives: number, positives: number, name: string): void {
  if (positives === 0) throw new RangeError(`${name} must contain at least one anomalous (1) entry`);
  if (negatives === 0) throw new RangeError(`${name} must contain at least one normal (0) entry`);
}

export interface CheckedMaps {
  readonly scores: Float32Array[];
  readonly masks: Uint8Array[];
  readonly widths: Int32Array;
  readonly heights: Int32Array;
}

function checkSize(map: { width: unknown; height: unknown }, name: string): void {
  for (const key of ['width', 'height'] as const) {
    const v = map[key];
    if (typeof v !== 'number') throw new TypeError(`${name}.${key} must be a number, got ${describe(v)}`);
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`${name}.${key} must be a positive integer, got ${v}`);
  }
}

function toFloat32(data: unknown, name: string): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof Float64Array) return Float32Array.from(data);
  if (!Array.isArray(data)) {
    throw new TypeError(`${name} must be a Float32Array, Float64Array or number[], got ${describe(data)}`);
  }
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    if (typeof v !== 'number') throw new TypeError(`${name}[${i}] must be a number, got ${describe(v)}`);
    out[i] = v;
  }
  return out;
}

function toMask(data: unknown, name: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (!Array.isArray(data)) {
    throw new TypeError(`${name} must be a Uint8Array, boolean[] or number[], got ${describe(data)}`);
  }
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    if (typeof v === 'boolean') out[i] = v ? 1 : 0;
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new RangeError(`${name}[${i}] must be a finite number, got ${v}`);
      out[i] = v !== 0 ? 1 : 0;
    } else throw new TypeError(`${name}[${i}] must be a boolean or number, got ${describe(v)}`);
  }
  return out;
}

/**
 * Checks maps and masks pairwise (same count, same sizes, data length = width*height) and returns them as
 * float32 scores and uint8 masks (no copy when they already are). Non-finite scores are caught later by the
 * pixel engine, which reads every value anyway.
 */
export function checkMaps(
  maps: unknown,
  masks: unknown,
  mapsName = 'maps',
  masksName = 'masks',
): CheckedMaps {
  if (!Array.isArray(maps))
    throw new TypeError(`${mapsName} must be an array of {width, height, data}, got ${describe(maps)}`);
  if (!Array.isArray(masks))
    throw new TypeError(`${masksName} must be an array of {width, height, data}, got ${describe(masks)}`);
  if (maps.length === 0) throw new RangeError(`${mapsName} must not be empty`);
  if (masks.length !== maps.length) {
    throw new RangeError(`${masksName} must have one mask per map (${maps.length}), got ${masks.length}`);
  }
  const n = maps.length;
  const result: CheckedMaps = {
    scores: new Array<Float32Array>(n),
    masks: new Array<Uint8Array>(n),
    widths: new Int32Array(n),
    heights: new Int32Array(n),
  };
  for (let i = 0; i < n; i++) {
    const map: unknown = maps[i];
    const mask: unknown = masks[i];
    const mapName = `${mapsName}[${i}]`;
    const maskName = `${masksName}[${i}]`;
    if (typeof map !== 'object' || map === null)
      throw new TypeError(`${mapName} must be {width, height, data}, got ${describe(map)}`);
    if (typeof mask !== 'object' || mask === null)
      throw new TypeError(`${maskName} must be {width, height, data}, got ${describe(mask)}`);
    const m = map as ScoreMap;
    const k = mask as MaskMap;
    checkSize(m, mapName);
    checkSize(k, maskName);
    if (k.width !== m.width || k.height !== m.height) {
      throw new RangeError(
        `${maskName} must be ${m.width}x${m.height} like ${mapName}, got ${k.width}x${k.height}`,
      );
    }
    const size = m.width * m.height;
    const data = toFloat32(m.data, `${mapName}.data`);
    if (data.length !== size)
      throw new RangeError(`${mapName}.data must have width*height = ${size} values, got ${data.length}`);
    const maskData = toMask(k.data, `${maskName}.data`);
    if (maskData.length !== size)
      throw new RangeError(
        `${maskName}.data must have width*height = ${size} values, got ${maskData.length}`,
      );
    result.scores[i] = data;
    result.masks[i] = maskData;
    result.widths[i] = m.width;
    result.heights[i] = m.height;
  }
  return result;
}
