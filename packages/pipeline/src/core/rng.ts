/**
 * Reproducible Gaussian noise, bit-identical on every machine running V8 (Math.log/cos/sin are V8's fdlibm ports,
 * Math.sqrt is IEEE-exact; all generator arithmetic is 32-bit integer).
 *
 * Generator: xoshiro128** (Blackman & Vigna), 4×32-bit state, seeded from a 64-bit SplitMix64 stream of the seed:
 * the first two SplitMix64 outputs give the state words (hi, lo, hi, lo). Uniforms: u = (a>>>5 · 2^26 + b>>>6) / 2^53
 * from two consecutive outputs a, b (53 bits, [0,1)). Normals: Box–Muller in float64,
 * r = sqrt(−2·ln(1 − u1)), θ = 2π·u2, yielding r·cos θ then r·sin θ, each cast to float32.
 */

const MASK64 = (1n << 64n) - 1n;

function splitmix64(state: { s: bigint }): bigint {
  state.s = (state.s + 0x9e3779b97f4a7c15n) & MASK64;
  let z = state.s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`seed: expected a non-negative safe integer, got ${seed}`);
    }
    const st = { s: BigInt(seed) };
    const a = splitmix64(st);
    const b = splitmix64(st);
    this.s0 = Number(a >> 32n);
    this.s1 = Number(a & 0xffffffffn);
    this.s2 = Number(b >> 32n);
    this.s3 = Number(b & 0xffffffffn);
    // An all-zero state would be a fixed point; SplitMix64 cannot yield two zero outputs in a row, but be explicit.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s3 = 1;
  }

  /** Next uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float64 in [0, 1) with 53 random bits. */
  nextFloat64(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }
}

/** Fills `out` with standard normal samples (float32) from `rng`, Box–Muller pairs in order. */
export function fillNormal(rng: Xoshiro128, out: Float32Array): Float32Array {
  let i = 0;
  while (i < out.length) {
    const u1 = rng.nextFloat64();
    const u2 = rng.nextFloat64();
    const r = Math.sqrt(-2 * Math.log(1 - u1));
    const theta = 2 * Math.PI * u2;
    out[i++] = r * Math.cos(theta);
    if (i < out.length) out[i++] = r * Math.sin(theta);
  }
  return out;
}

/** The run's noise for one frame: n1 then n2 drawn from one stream seeded with `seed`. */
export function seededNoise(seed: number, n1: Float32Array, n2: Float32Array): void {
  const rng = new Xoshiro128(seed);
  fillNormal(rng, n1);
  fillNormal(rng, n2);
}
