import { describe, expect, it } from 'vitest';
import { alphasCumprod, betas, ddimStep, ddimTimesteps, posteriorSample, qSample } from '../../src/index.js';

describe('schedule', () => {
  it('linear betas and their cumulative product by hand', () => {
    const spec = { type: 'linear' as const, betaStart: 0.1, betaEnd: 0.3, trainSteps: 3 };
    expect([...betas(spec)].map((v) => +v.toFixed(12))).toEqual([0.1, 0.2, 0.3]);
    const ac = alphasCumprod(spec);
    expect(ac[0]).toBeCloseTo(0.9, 14);
    expect(ac[1]).toBeCloseTo(0.72, 14);
    expect(ac[2]).toBeCloseTo(0.504, 14);
  });

  it('scaled_linear matches torch.linspace(sqrt b0, sqrt b1, T, float64)**2 cumprod', () => {
    const ac = alphasCumprod({ type: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012, trainSteps: 1000 });
    // Expected values computed offline with torch 1.13 (float64).
    expect(ac[0]).toBeCloseTo(0.99915, 14);
    expect(ac[1]).toBeCloseTo(0.9982960278384514, 14);
    expect(ac[500]).toBeCloseTo(0.2763326838229747, 13);
    expect(ac[999]).toBeCloseTo(0.004660098513077241, 14);
  });

  it('rejects a bad schedule naming the field', () => {
    expect(() => betas({ type: 'linear', betaStart: 0, betaEnd: 0.1, trainSteps: 10 })).toThrow(/betaStart/);
    expect(() => betas({ type: 'linear', betaStart: 0.1, betaEnd: 0.2, trainSteps: 1 })).toThrow(
      /trainSteps/,
    );
  });

  it('DDIM timesteps follow c = floor((S+1)/N), tau_k = k*c + 1, descending', () => {
    expect(ddimTimesteps(999, 10, 1000)).toEqual([901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    expect(ddimTimesteps(499, 5, 1000)).toEqual([401, 301, 201, 101, 1]);
    expect(ddimTimesteps(300, 4, 1000)).toEqual([226, 151, 76, 1]);
    expect(ddimTimesteps(0, 1, 1000)).toEqual([1]);
    expect(() => ddimTimesteps(1000, 10, 1000)).toThrow(RangeError);
    expect(() => ddimTimesteps(5, 7, 1000)).toThrow(/steps/);
  });
});

describe('sampler arithmetic', () => {
  it('posterior sample z0 = scale*(mean + exp(logvar/2)*n1)', () => {
    const out = new Float32Array(2);
    posteriorSample(
      Float32Array.of(1, -1),
      Float32Array.of(Math.log(4), 0),
      Float32Array.of(0.5, 2),
      0.5,
      out,
    );
    expect(out[0]).toBeCloseTo(1, 6); // 0.5*(1 + 2*0.5)
    expect(out[1]).toBeCloseTo(0.5, 6); // 0.5*(-1 + 1*2)
  });

  it('q_sample mixes signal and noise by sqrt(abar), sqrt(1-abar)', () => {
    const out = new Float32Array(2);
    qSample(Float32Array.of(2, -1), Float32Array.of(1, 0.5), 0.36, out);
    expect(out[0]).toBeCloseTo(0.6 * 2 + 0.8 * 1, 6);
    expect(out[1]).toBeCloseTo(-0.6 + 0.4, 6);
  });

  it('one DDIM eta=0 step by hand', () => {
    const z = Float32Array.of(1);
    ddimStep(z, Float32Array.of(0.5), 0.25, 0.64, z);
    // x0 = (1 - sqrt(.75)*.5)/.5 = 1.1339746; z' = .8*x0 + .6*.5
    expect(z[0]).toBeCloseTo(1.20717968, 6);
  });

  it('a step with the true noise recovers x0 exactly at abar_prev = 1', () => {
    const x0 = Float32Array.of(0.3, -1.2);
    const eps = Float32Array.of(0.7, 0.1);
    const z = new Float32Array(2);
    qSample(x0, eps, 0.5, z);
    ddimStep(z, eps, 0.5, 1, z);
    expect(z[0]).toBeCloseTo(0.3, 6);
    expect(z[1]).toBeCloseTo(-1.2, 6);
  });

  it('rejects mismatched lengths and alpha out of range', () => {
    expect(() => qSample(new Float32Array(2), new Float32Array(3), 0.5, new Float32Array(2))).toThrow(/n2/);
    expect(() => ddimStep(new Float32Array(1), new Float32Array(1), 0, 0.5, new Float32Array(1))).toThrow(
      /alphaBarT/,
    );
  });
});
