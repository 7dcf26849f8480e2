import { describe, expect, it } from 'vitest';
import {
  cosineDistanceMap,
  gaussianBlur,
  gaussianKernel,
  meanFilterValid,
  normalizedScore,
  planGaussianBlur,
  planPoolScore,
  planUpsample,
  poolScore,
  reflectIndex,
  thresholdMask,
  upsampleBilinearAlignCorners,
  verdictOf,
} from '../../src/index.js';

function expectClose(got: ArrayLike<number>, want: number[], tol: number) {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i] - want[i]) > tol) throw new Error(`index ${i}: got ${got[i]}, want ${want[i]}`);
  }
}

// Test array of the scipy/torch references below: (arange(30).reshape(5,6) % 7)**2 / 10 as float32.
const A = Float32Array.from({ length: 30 }, (_, i) => (i % 7) ** 2 / 10);

describe('cosine distance map', () => {
  it('orthogonal, equal, opposite and zero vectors', () => {
    // 2 channels, 1x4 pixels: channel 0 = [1, 1, 1, 0], channel 1 = [0, 2, 0, 0]
    const a = Float32Array.of(1, 1, 1, 0, 0, 2, 0, 0);
    const b = Float32Array.of(0, 1, -1, 0, 1, 2, 0, 0);
    const out = new Float32Array(4);
    cosineDistanceMap(a, b, 2, 1, 4, out);
    expectClose(out, [1, 0, 2, 1], 1e-7);
  });

  it('matches torch 1 - cosine_similarity(dim=1) on random data', () => {
    const fa = [
      1.6243454217910767, -0.6117563843727112, -0.5281717777252197, -1.072968602180481, 0.8654076457023621,
      -2.3015387058258057, 1.744811773300171, -0.7612069249153137, 0.31903910636901855, -0.24937038123607635,
      1.4621078968048096, -2.060140609741211,
    ];
    const fb = [
      -0.3224171996116638, -0.38405436277389526, 1.1337693929672241, -1.0998913049697876, -0.1724282056093216,
      -0.8778584003448486, 0.042213745415210724, 0.5828152298927307, -1.1006191968917847, 1.144723653793335,
      0.9015907049179077, 0.5024943351745605,
    ];
    const out = new Float32Array(4);
    cosineDistanceMap(Float32Array.from(fa), Float32Array.from(fb), 3, 2, 2, out);
    expectClose(out, [1.472716212272644, 0.44890332221984863, 0.7658229470252991, 1.0910344123840332], 1e-6);
  });
});

describe('bilinear align-corners upsample', () => {
  it('2x2 to 3x3 by hand', () => {
    const out = new Float32Array(9);
    upsampleBilinearAlignCorners(Float32Array.of(0, 1, 2, 3), planUpsample(2, 2, 3, 3), out);
    expectClose(out, [0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3], 1e-7);
  });

  it('3x4 to 5x7 matches torch F.interpolate(align_corners=True)', () => {
    const src = Float32Array.from({ length: 12 }, (_, i) => i ** 1.5);
    const out = new Float32Array(35);
    upsampleBilinearAlignCorners(src, planUpsample(3, 4, 5, 7), out);
    expectClose(
      out,
      [
        0.0, 0.5, 1.0, 1.9142135381698608, 2.8284270763397217, 4.012290000915527, 5.196152687072754, 4.0,
        5.0450849533081055, 6.090169906616211, 7.426426410675049, 8.762682914733887, 10.310443878173828,
        11.858205795288086, 8.0, 9.590169906616211, 11.180339813232422, 12.938638687133789,
        14.696938514709473, 16.608598709106445, 18.5202579498291, 15.313708305358887, 17.20193862915039,
        19.09016990661621, 21.12501335144043, 23.15985679626465, 25.330711364746094, 27.501564025878906,
        22.627416610717773, 24.813709259033203, 27.0, 29.31138801574707, 31.62277603149414,
        34.052825927734375, 36.482872009277344,
      ],
      2e-5,
    );
  });

  it('accumulates when asked and handles 1-pixel sources', () => {
    const out = Float32Array.of(1, 1, 1, 1);
    upsampleBilinearAlignCorners(Float32Array.of(2), planUpsample(1, 1, 2, 2), out, true);
    expectClose(out, [3, 3, 3, 3], 0);
  });
});

describe('gaussian blur (scipy reflect)', () => {
  it('reflect index: d c b a | a b c d | d c b a, far beyond the edge too', () => {
    expect([-5, -4, -3, -2, -1, 0, 3, 4, 5, 7, 8, 12].map((i) => reflectIndex(i, 4))).toEqual([
      3, 3, 2, 1, 0, 0, 3, 3, 2, 0, 0, 3,
    ]);
    expect(reflectIndex(-3, 1)).toBe(0);
  });

  it('kernel radius floor(truncate*sigma + 0.5), normalised', () => {
    expect(gaussianKernel(1, 4).length).toBe(9);
    expect(gaussianKernel(0.7, 3).length).toBe(5); // floor(2.6) = 2
    expect(gaussianKernel(5, 4).length).toBe(41);
    expect(gaussianKernel(0, 4).length).toBe(1);
    const k = gaussianKernel(1, 4);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    expect(k[4] / k[5]).toBeCloseTo(Math.exp(0.5), 12);
  });

  const cases: [number, number, number[]][] = [
    [
      1,
      4,
      [
        0.8869656324386597, 0.5934313535690308, 0.511751115322113, 0.8171164393424988, 1.3487972021102905,
        1.7970986366271973, 1.7090110778808594, 1.1745202541351318, 0.6949697136878967, 0.6634398102760315,
        0.9976962804794312, 1.3486723899841309, 2.1775143146514893, 1.8286805152893066, 1.2061262130737305,
        0.7213312387466431, 0.6583288311958313, 0.812859296798706, 1.9271676540374756, 2.0496630668640137,
        1.8299217224121094, 1.1883916854858398, 0.627272367477417, 0.457377552986145, 1.5285391807556152,
        1.9271924495697021, 2.178058624267578, 1.7094875574111938, 0.8084126114845276, 0.3202042877674103,
      ],
    ],
    // sigma 2.5: radius 10, larger than the 5x6 plane, so reflection wraps several times.
    [
      2.5,
      4,
      [
        1.241156816482544, 1.2056002616882324, 1.153212547302246, 1.107280969619751, 1.0801664590835571,
        1.0698888301849365, 1.3069429397583008, 1.2636899948120117, 1.1956305503845215, 1.1279563903808594,
        1.0788968801498413, 1.054649829864502, 1.4098243713378906, 1.3551297187805176, 1.26332426071167,
        1.1621066331863403, 1.078762412071228, 1.032535433769226, 1.5083152055740356, 1.4434255361557007,
        1.3298603296279907, 1.1971179246902466, 1.0809967517852783, 1.0135586261749268, 1.5669904947280884,
        1.496423363685608, 1.3704032897949219, 1.2191874980926514, 1.083564043045044, 1.0034013986587524,
      ],
    ],
    [
      0.7,
      3,
      [
        0.6461902260780334, 0.31125038862228394, 0.39477118849754333, 0.8338867425918579, 1.4765747785568237,
        2.0931148529052734, 2.171396017074585, 1.0431207418441772, 0.387190580368042, 0.5048551559448242,
        0.980587899684906, 1.4765747785568237, 2.5023508071899414, 2.1728696823120117, 1.0452560186386108,
        0.39200061559677124, 0.5048551559448242, 0.8338867425918579, 1.8464179039001465, 2.3249316215515137,
        2.1728696823120117, 1.0460251569747925, 0.36991721391677856, 0.3881714344024658, 1.2423697710037231,
        1.8464179039001465, 2.5023508071899414, 2.172808885574341, 0.6511538624763489, 0.1658327281475067,
      ],
    ],
  ];
  for (const [sigma, truncate, want] of cases) {
    it(`matches scipy.ndimage.gaussian_filter(sigma=${sigma}, truncate=${truncate}, mode=reflect) at the borders`, () => {
      const out = new Float32Array(30);
      gaussianBlur(A, planGaussianBlur(5, 6, sigma, truncate), out);
      expectClose(out, want, 2e-6);
    });
  }

  it('sigma 0 is the identity and the output may alias the input', () => {
    const a = A.slice();
    gaussianBlur(a, planGaussianBlur(5, 6, 0), a);
    expectClose(a, [...A], 0);
  });
});

describe('pooled image score', () => {
  it('k x k valid mean by hand', () => {
    const out = new Float32Array(4);
    // 3x3 plane 1..9, k=2 -> [[3,4],[6,7]]
    meanFilterValid(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9), 3, 3, 2, out, new Float64Array(9));
    expectClose(out, [3, 4, 6, 7], 1e-7);
  });

  it('two rounds of 3x3 matches torch avg_pool2d(3, stride=1) twice, then max', () => {
    const s = poolScore(A, planPoolScore(5, 6, 3, 2));
    expect(s).toBeCloseTo(1.243209958076477, 6);
  });

  it('zero rounds is the plain max; rounds stop once the plane is smaller than k', () => {
    expect(poolScore(A, planPoolScore(5, 6, 3, 0))).toBeCloseTo(3.6, 6);
    // 5x6 -> 3x4 -> 1x2 -> stop (1 < 3)
    const s5 = poolScore(A, planPoolScore(5, 6, 3, 5));
    const s2 = poolScore(A, planPoolScore(5, 6, 3, 2));
    expect(s5).toBe(s2);
  });
});

describe('score mapping, mask, verdict', () => {
  it('normalised score is 0.5 at the threshold, logistic in units of the calibration std', () => {
    expect(normalizedScore(0.15, 0.15, 0.01)).toBe(0.5);
    expect(normalizedScore(0.18, 0.15, 0.01)).toBeCloseTo(1 / (1 + Math.exp(-3)), 12);
    expect(normalizedScore(0.12, 0.15, 0.01)).toBeCloseTo(1 / (1 + Math.exp(3)), 12);
    expect(normalizedScore(10, 0.15, 0.01)).toBe(1);
    expect(normalizedScore(-10, 0.15, 0.01)).toBe(0);
    // no calibration spread: 10% of the threshold
    expect(normalizedScore(0.165, 0.15, 0)).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
  });

  it('mask counts pixels at or above the pixel threshold; NOK at or above the image threshold', () => {
    const mask = new Uint8Array(4);
    expect(thresholdMask(Float32Array.of(0.1, 0.3, 0.5, 0.29), 0.3, mask)).toBe(2);
    expect([...mask]).toEqual([0, 1, 1, 0]);
    expect(verdictOf(0.15, 0.15)).toBe('NOK');
    expect(verdictOf(0.1499, 0.15)).toBe('OK');
  });
});
