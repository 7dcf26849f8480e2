/**
 * Straightforward float64 re-computation of the tiny bundle's whole run (its graphs and docs/bundle.md's maths),
 * written independently of src/: direct 2-D convolution, explicit mirror loops, nested arrays.
 */
type Img = number[][][]; // [c][y][x]

const S = 32;

function avgPool(x: Img, k: number): Img {
  return x.map((plane) => {
    const n = plane.length / k;
    return Array.from({ length: n }, (_, y) =>
      Array.from({ length: n }, (_, xx) => {
        let s = 0;
        for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) s += plane[y * k + i][xx * k + j];
        return s / (k * k);
      }),
    );
  });
}

function flat(x: Img): number[] {
  return x.flat(2);
}

function unflat(v: ArrayLike<number>, c: number, h: number, w: number): Img {
  return Array.from({ length: c }, (_, ci) =>
    Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, xx) => v[ci * h * w + y * w + xx])),
  );
}

function alphaBar(t: number): number {
  let p = 1;
  for (let i = 0; i <= t; i++) {
    const s = Math.sqrt(0.00085) + (i / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085));
    p *= 1 - s * s;
  }
  return p;
}

function mirror(i: number, n: number): number {
  // scipy "reflect": walk back and forth, repeating the edge sample.
  let j = i;
  while (j < 0 || j >= n) {
    if (j < 0) j = -j - 1;
    if (j >= n) j = 2 * n - j - 1;
  }
  return j;
}

export function referenceRun(
  rgb: Uint8Array,
  n1: Float32Array,
  n2: Float32Array,
  opts: { startStep: number; steps: number; mode?: 'diad' | 'autoencoder' },
): { x: number[]; recon: number[]; mapRaw: number[]; map: number[]; score: number } {
  const mean = [0.5, 0.4, 0.3];
  const std = [0.25, 0.2, 0.3];
  const x: Img = [0, 1, 2].map((c) =>
    Array.from({ length: S }, (_, y) =>
      Array.from({ length: S }, (_, xx) => (rgb[(y * S + xx) * 3 + c] / 255 - mean[c]) / std[c]),
    ),
  );
  // encoder
  const p = avgPool(x, 8);
  const mu = [...p, p[0]];
  const lv = mu.map((pl) => pl.map((row) => row.map((v) => 0.5 * v - 2)));
  const muF = flat(mu);
  const lvF = flat(lv);
  let zIn: number[];
  if (opts.mode === 'autoencoder') {
    zIn = muF;
  } else {
    let z = muF.map((m, i) => 0.5 * (m + Math.exp(0.5 * lvF[i]) * n1[i]));
    const aS = alphaBar(opts.startStep);
    z = z.map((v, i) => Math.sqrt(aS) * v + Math.sqrt(1 - aS) * n2[i]);
    const c = Math.floor((opts.startStep + 1) / opts.steps);
    const hp = avgPool(x, 8);
    const h4 = flat([...hp, hp[2]]);
    for (let k = opts.steps - 1; k >= 0; k--) {
      const tau = k * c + 1;
      const eps = z.map((v, i) => 0.1 * v + 0.001 * tau + 0.05 * h4[i]);
      const at = alphaBar(tau);
      const ap = k > 0 ? alphaBar((k - 1) * c + 1) : alphaBar(0);
      z = z.map((v, i) => {
        const x0 = (v - Math.sqrt(1 - at) * eps[i]) / Math.sqrt(at);
        return Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * eps[i];
      });
    }
    zIn = z.map((v) => v / 0.5);
  }
  // decoder: nearest ×8 of channels 0..2, 2·tanh
  const zl = unflat(zIn, 4, 4, 4);
  const r: Img = [0, 1, 2].map((c) =>
    Array.from({ length: S }, (_, y) =>
      Array.from({ length: S }, (_, xx) => 2 * Math.tanh(zl[c][Math.floor(y / 8)][Math.floor(xx / 8)])),
    ),
  );
  // features and the anomaly map
  const feats = (im: Img): Img[] => {
    const p8 = avgPool(im, 8);
    return [avgPool(im, 2), avgPool(im, 4), [...p8, ...p8.map((pl) => pl.map((row) => row.map(Math.abs)))]];
  };
  const fa = feats(x);
  const fb = feats(r);
  const mapRaw = Array.from({ length: S }, () => new Array<number>(S).fill(0));
  fa.forEach((a, li) => {
    const b = fb[li];
    const n = a[0].length;
    const d = Array.from({ length: n }, (_, y) =>
      Array.from({ length: n }, (_, xx) => {
        let dot = 0;
        let na = 0;
        let nb = 0;
        for (let c = 0; c < a.length; c++) {
          dot += a[c][y][xx] * b[c][y][xx];
          na += a[c][y][xx] ** 2;
          nb += b[c][y][xx] ** 2;
        }
        return 1 - dot / Math.max(Math.sqrt(na * nb), 1e-8);
      }),
    );
    for (let y = 0; y < S; y++) {
      for (let xx = 0; xx < S; xx++) {
        const sy = (y * (n - 1)) / (S - 1);
        const sx = (xx * (n - 1)) / (S - 1);
        const y0 = Math.floor(sy);
        const x0 = Math.floor(sx);
        const y1 = Math.min(y0 + 1, n - 1);
        const x1 = Math.min(x0 + 1, n - 1);
        const wy = sy - y0;
        const wx = sx - x0;
        mapRaw[y][xx] +=
          (1 - wy) * ((1 - wx) * d[y0][x0] + wx * d[y0][x1]) + wy * ((1 - wx) * d[y1][x0] + wx * d[y1][x1]);
      }
    }
  });
  // direct 2-D Gaussian, sigma 1.5, radius floor(4*1.5+0.5) = 6
  const sigma = 1.5;
  const R = 6;
  let wsum = 0;
  for (let i = -R; i <= R; i++) wsum += Math.exp((-i * i) / (2 * sigma * sigma));
  const map = Array.from({ length: S }, (_, y) =>
    Array.from({ length: S }, (_, xx) => {
      let s = 0;
      for (let i = -R; i <= R; i++) {
        for (let j = -R; j <= R; j++) {
          const w =
            (Math.exp((-i * i) / (2 * sigma * sigma)) * Math.exp((-j * j) / (2 * sigma * sigma))) /
            (wsum * wsum);
          s += w * mapRaw[mirror(y + i, S)][mirror(xx + j, S)];
        }
      }
      return s;
    }),
  );
  // two rounds of 4×4 mean, stride 1, valid; then max
  let m = map;
  for (let round = 0; round < 2; round++) {
    const n = m.length - 3;
    const prev = m;
    m = Array.from({ length: n }, (_, y) =>
      Array.from({ length: n }, (_, xx) => {
        let s = 0;
        for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) s += prev[y + i][xx + j];
        return s / 16;
      }),
    );
  }
  const score = Math.max(...m.flat());
  return { x: flat(x), recon: flat(r), mapRaw: mapRaw.flat(), map: map.flat(), score };
}
