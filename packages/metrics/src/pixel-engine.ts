import { RegionLabeller } from './regions.js';
import type { GroupSink } from './sink.js';
import { checkBothClasses } from './validate.js';

/** Float32 score chunks (one per image) with 0/1-or-nonzero masks of the same length. */
export interface PixelSource {
  readonly scores: readonly Float32Array[];
  readonly masks: readonly Uint8Array[];
  /** Required when regions are labelled. */
  readonly widths?: Int32Array;
  readonly heights?: Int32Array;
  /** Names the value at chunk c, index i in error messages. */
  readonly nameOf: (chunk: number, index: number) => string;
  /** Names the masks in single-class errors. */
  readonly masksName: string;
}

const PREFIXES = 65536;
const SIGN = -2147483648; // 0x80000000 as int32: the bit pattern of -0
const EXPONENT = 0x7f800000;
/** Above this many distinct low halves in one prefix, scanning all 65536 slots beats sorting them. */
const DENSE_SCAN = 4096;

/**
 * Order-preserving map from float32 bits (as int32) to a 32-bit key (as int32 bit pattern): unsigned key
 * order equals numeric order. -0 is folded onto +0 so the two form one tie.
 */
function orderedKey(bits: number): number {
  if (bits >= 0) return bits ^ SIGN;
  return bits === SIGN ? SIGN : ~bits;
}

const scratchBits = new Int32Array(1);
const scratchFloat = new Float32Array(scratchBits.buffer);

function keyToFloat(key: number): number {
  // key is an unsigned 32-bit value here.
  scratchBits[0] = key >= 0x80000000 ? key - 0x80000000 : ~key;
  return scratchFloat[0];
}

function int32View(a: Float32Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length);
}

/**
 * Streams float32 pixels to sinks by distinct score, decreasing, in O(n) time and 2 bytes per pixel
 * (plus 4 per anomalous pixel with regions): a counting sort on the top 16 bits of an order-preserving key
 * groups the pixels, then each group is resolved by counting its low 16 bits, which identify the distinct
 * value exactly. No comparison sort over all pixels, no per-pixel JS numbers or objects.
 */
export function sweepPixels(source: PixelSource, withRegions: boolean, sinks: readonly GroupSink[]): void {
  const chunks = source.scores.length;
  const negHist = new Uint32Array(PREFIXES);
  const posHist = new Uint32Array(PREFIXES);
  const chunkPositives = new Float64Array(chunks);
  const regionBase = new Int32Array(chunks);
  const weights: number[] = [];
  const labeller = withRegions ? new RegionLabeller() : null;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;

  // Pass 1: validate, histogram the key prefixes per class, label regions and record their areas.
  for (let c = 0; c < chunks; c++) {
    const values = source.scores[c];
    const bits = int32View(values);
    const mask = source.masks[c];
    let chunkPos = 0;
    for (let i = 0; i < bits.length; i++) {
      const b = bits[i];
      if ((b & EXPONENT) === EXPONENT) {
        throw new RangeError(`${source.nameOf(c, i)} must be a finite number, got ${values[i]}`);
      }
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
      const prefix = orderedKey(b) >>> 16;
      if (mask[i] !== 0) {
        posHist[prefix]++;
        chunkPos++;
      } else negHist[prefix]++;
    }
    chunkPositives[c] = chunkPos;
    regionBase[c] = weights.length;
    if (labeller && chunkPos > 0) {
      const count = labeller.label(mask, source.widths![c], source.heights![c]);
      for (let r = 1; r <= count; r++) weights.push(1 / labeller.areas[r]);
    }
  }

  let negatives = 0;
  let positives = 0;
  const negNext = new Uint32Array(PREFIXES);
  const posNext = new Uint32Array(PREFIXES);
  for (let p = 0; p < PREFIXES; p++) {
    negNext[p] = negatives;
    posNext[p] = positives;
    negatives += negHist[p];
    positives += posHist[p];
  }
  checkBothClasses(negatives, positives, source.masksName);

  // Pass 2: scatter the low 16 bits of each key into its prefix's segment (a counting sort by prefix).
  const negLow = new Uint16Array(negatives);
  const posLow = new Uint16Array(positives);
  const posRegion = withRegions ? new Int32Array(positives) : null;
  for (let c = 0; c < chunks; c++) {
    const bits = int32View(source.scores[c]);
    const mask = source.masks[c];
    let labels: Int32Array | null = null;
    let base = 0;
    if (labeller && posRegion && chunkPositives[c] > 0) {
      labeller.label(mask, source.widths![c], source.heights![c]);
      labels = labeller.labels;
      base = regionBase[c] - 1;
    }
    for (let i = 0; i < bits.length; i++) {
      const key = orderedKey(bits[i]);
      const prefix = key >>> 16;
      const low = key & 0xffff;
      if (mask[i] !== 0) {
        const at = posNext[prefix]++;
        posLow[at] = low;
        if (labels) posRegion![at] = base + labels[i];
      } else negLow[negNext[prefix]++] = low;
    }
  }

  const regionWeights = Float64Array.from(weights);
  for (const sink of sinks) sink.begin({ negatives, positives, regions: regionWeights.length, min, max });

  // Sweep prefixes from the top; within a prefix, count per low half and emit distinct values descending.
  const cntNeg = new Uint32Array(PREFIXES);
  const cntPos = new Uint32Array(PREFIXES);
  const wsum = new Float64Array(PREFIXES);
  const touched = new Uint16Array(PREFIXES);
  const emit = (prefix: number, low: number): void => {
    const threshold = keyToFloat(prefix * 65536 + low);
    const n = cntNeg[low];
    const p = cntPos[low];
    const w = wsum[low];
    cntNeg[low] = 0;
    cntPos[low] = 0;
    wsum[low] = 0;
    for (let s = 0; s < sinks.length; s++) sinks[s].group(threshold, n, p, w);
  };
  for (let prefix = PREFIXES - 1; prefix >= 0; prefix--) {
    const nn = negHist[prefix];
    const pn = posHist[prefix];
    if (nn + pn === 0) continue;
    let distinct = 0;
    const negEnd = negNext[prefix];
    for (let j = negEnd - nn; j < negEnd; j++) {
      const low = negLow[j];
      if (cntNeg[low] === 0) touched[distinct++] = low;
      cntNeg[low]++;
    }
    const posEnd = posNext[prefix];
    for (let j = posEnd - pn; j < posEnd; j++) {
      const low = posLow[j];
      if (cntNeg[low] === 0 && cntPos[low] === 0) touched[distinct++] = low;
      cntPos[low]++;
      if (posRegion) wsum[low] += regionWeights[posRegion[j]];
    }
    if (distinct > DENSE_SCAN) {
      for (let low = PREFIXES - 1; low >= 0; low--)
        if (cntNeg[low] !== 0 || cntPos[low] !== 0) emit(prefix, low);
    } else {
      const lows = touched.subarray(0, distinct).sort();
      for (let t = distinct - 1; t >= 0; t--) emit(prefix, lows[t]);
    }
  }
}
