/** Diffusion noise schedule and DDIM timesteps, exactly as docs/bundle.md "The run, exactly" defines them. */

export type ScheduleType = 'scaled_linear' | 'linear';

export interface ScheduleSpec {
  type: ScheduleType;
  betaStart: number;
  betaEnd: number;
  trainSteps: number;
}

/** β_i for i = 0 … T−1 (float64, as the reference computes them before casting ᾱ). */
export function betas(spec: ScheduleSpec): Float64Array {
  const { type, betaStart, betaEnd, trainSteps: T } = spec;
  if (!Number.isInteger(T) || T < 2)
    throw new RangeError(`schedule.trainSteps: expected an integer >= 2, got ${T}`);
  if (!(betaStart > 0 && betaStart < 1))
    throw new RangeError(`schedule.betaStart: expected in (0,1), got ${betaStart}`);
  if (!(betaEnd > 0 && betaEnd < 1))
    throw new RangeError(`schedule.betaEnd: expected in (0,1), got ${betaEnd}`);
  const out = new Float64Array(T);
  if (type === 'scaled_linear') {
    const a = Math.sqrt(betaStart);
    const b = Math.sqrt(betaEnd);
    for (let i = 0; i < T; i++) {
      const s = a + (i / (T - 1)) * (b - a);
      out[i] = s * s;
    }
  } else if (type === 'linear') {
    for (let i = 0; i < T; i++) out[i] = betaStart + (i / (T - 1)) * (betaEnd - betaStart);
  } else {
    throw new TypeError(`schedule.type: expected "scaled_linear" or "linear", got ${String(type)}`);
  }
  return out;
}

/** ᾱ_t = Π_{i≤t} (1 − β_i), float64. */
export function alphasCumprod(spec: ScheduleSpec): Float64Array {
  const b = betas(spec);
  const out = new Float64Array(b.length);
  let p = 1;
  for (let i = 0; i < b.length; i++) {
    p *= 1 - b[i];
    out[i] = p;
  }
  return out;
}

/**
 * DDIM timesteps in visiting order (descending): c = floor((S+1)/N), τ_k = k·c + 1, k = N−1 … 0.
 * S = 999, N = 10 gives 901, 801, …, 1 (the official DiAD code's rule).
 */
export function ddimTimesteps(startStep: number, steps: number, trainSteps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1)
    throw new RangeError(`steps: expected an integer >= 1, got ${steps}`);
  if (!Number.isInteger(startStep) || startStep < 0 || startStep >= trainSteps) {
    throw new RangeError(`startStep: expected an integer in [0, ${trainSteps - 1}], got ${startStep}`);
  }
  if (steps > startStep + 1) {
    throw new RangeError(`steps: expected at most startStep + 1 (${startStep + 1}), got ${steps}`);
  }
  const c = Math.floor((startStep + 1) / steps);
  const out: number[] = [];
  for (let k = steps - 1; k >= 0; k--) out.push(k * c + 1);
  return out;
}
