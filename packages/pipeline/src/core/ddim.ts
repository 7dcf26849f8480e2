/** Sampler arithmetic over flat Float32Arrays (pure, no allocation except where a result is returned). */

function checkSameLength(name: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`${name}: expected length ${a.length}, got ${b.length}`);
}

/** z0 = scale · (mean + exp(0.5·logvar) · n1), written into `out`. */
export function posteriorSample(
  mean: Float32Array,
  logvar: Float32Array,
  n1: Float32Array,
  scale: number,
  out: Float32Array,
): Float32Array {
  checkSameLength('logvar', mean, logvar);
  checkSameLength('n1', mean, n1);
  checkSameLength('out', mean, out);
  for (let i = 0; i < mean.length; i++) out[i] = scale * (mean[i] + Math.exp(0.5 * logvar[i]) * n1[i]);
  return out;
}

/** z_S = sqrt(ᾱ_S)·z0 + sqrt(1 − ᾱ_S)·n2, written into `out` (may alias z0). */
export function qSample(
  z0: Float32Array,
  n2: Float32Array,
  alphaBar: number,
  out: Float32Array,
): Float32Array {
  checkSameLength('n2', z0, n2);
  checkSameLength('out', z0, out);
  if (!(alphaBar > 0 && alphaBar <= 1)) throw new RangeError(`alphaBar: expected in (0,1], got ${alphaBar}`);
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  for (let i = 0; i < z0.length; i++) out[i] = a * z0[i] + b * n2[i];
  return out;
}

/**
 * One deterministic DDIM step (η = 0): x̂0 = (z − sqrt(1−ᾱ_t)·ε)/sqrt(ᾱ_t);
 * z' = sqrt(ᾱ_prev)·x̂0 + sqrt(1−ᾱ_prev)·ε. Writes into `out` (may alias z).
 */
export function ddimStep(
  z: Float32Array,
  eps: Float32Array,
  alphaBarT: number,
  alphaBarPrev: number,
  out: Float32Array,
): Float32Array {
  checkSameLength('eps', z, eps);
  checkSameLength('out', z, out);
  if (!(alphaBarT > 0 && alphaBarT <= 1))
    throw new RangeError(`alphaBarT: expected in (0,1], got ${alphaBarT}`);
  if (!(alphaBarPrev > 0 && alphaBarPrev <= 1)) {
    throw new RangeError(`alphaBarPrev: expected in (0,1], got ${alphaBarPrev}`);
  }
  const sqrtT = Math.sqrt(alphaBarT);
  const sqrt1mT = Math.sqrt(1 - alphaBarT);
  const sqrtP = Math.sqrt(alphaBarPrev);
  const sqrt1mP = Math.sqrt(1 - alphaBarPrev);
  for (let i = 0; i < z.length; i++) {
    const e = eps[i];
    const x0 = (z[i] - sqrt1mT * e) / sqrtT;
    out[i] = sqrtP * x0 + sqrt1mP * e;
  }
  return out;
}
