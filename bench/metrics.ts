/**
 * Pixel AUROC + AP + F1max + AUPRO (exact, fprLimit 0.3) on an MVTec-AD-sized test set:
 * 1,725 anomaly maps of 256x256 (113 M pixels), smooth maps with noise and elliptic defects in about half of
 * the images, generated deterministically. Prints wall time and peak RSS.
 *
 *   npm run bench:metrics [-- --images 1725 --size 256 --official --verify]
 *
 * --verify recomputes AUROC / AP / F1max through the float64 comparison-sort path on the flattened pixels
 * (slow, ~8 bytes more per pixel) and prints the largest difference.
 */
import { pixelMetrics, rankingMetrics } from '@diad/metrics';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const images = option('images', 1725);
const size = option('size', 256);
const official = process.argv.includes('--official');
const verify = process.argv.includes('--verify');

let seed = 0x2f6b3a1d;
function random(): number {
  // xorshift32: cheap and deterministic
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}

function generate(): {
  maps: { width: number; height: number; data: Float32Array }[];
  masks: { width: number; height: number; data: Uint8Array }[];
} {
  const maps = [];
  const masks = [];
  const rows = new Float64Array(size);
  const cols = new Float64Array(size);
  for (let m = 0; m < images; m++) {
    const data = new Float32Array(size * size);
    const mask = new Uint8Array(size * size);
    const fx = 0.01 + random() * 0.05;
    const fy = 0.01 + random() * 0.05;
    const px = random() * 6;
    const py = random() * 6;
    for (let i = 0; i < size; i++) {
      cols[i] = Math.sin(fx * i + px);
      rows[i] = Math.cos(fy * i + py);
    }
    const base = 0.1 + 0.1 * random();
    for (let y = 0; y < size; y++) {
      const row = y * size;
      for (let x = 0; x < size; x++) data[row + x] = base + 0.05 * rows[y] * cols[x] + 0.04 * random();
    }
    if (m % 2 === 0) {
      const defects = 1 + Math.floor(random() * 3);
      for (let d = 0; d < defects; d++) {
        const cx = random() * size;
        const cy = random() * size;
        const rx = 2 + random() * size * 0.12;
        const ry = 2 + random() * size * 0.12;
        const strength = 0.05 + 0.3 * random();
        for (let y = Math.max(0, Math.floor(cy - ry)); y < Math.min(size, Math.ceil(cy + ry)); y++) {
          for (let x = Math.max(0, Math.floor(cx - rx)); x < Math.min(size, Math.ceil(cx + rx)); x++) {
            const r2 = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2;
            if (r2 <= 1) {
              mask[y * size + x] = 255;
              data[y * size + x] += strength * (1 - 0.7 * r2);
            }
          }
        }
      }
    }
    maps.push({ width: size, height: size, data });
    masks.push({ width: size, height: size, data: mask });
  }
  return { maps, masks };
}

const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;

const generationStart = performance.now();
const { maps, masks } = generate();
const generationSeconds = (performance.now() - generationStart) / 1000;
const rssBefore = process.memoryUsage().rss;
let anomalous = 0;
for (const mask of masks) for (let i = 0; i < mask.data.length; i++) if (mask.data[i] !== 0) anomalous++;
const pixels = images * size * size;
console.log(
  `data: ${images} maps of ${size}x${size} = ${(pixels / 1e6).toFixed(1)} M pixels, ` +
    `${((100 * anomalous) / pixels).toFixed(2)} % anomalous, generated in ${generationSeconds.toFixed(1)} s, ` +
    `RSS after generation ${mb(rssBefore / 1024)}`,
);

const start = performance.now();
const result = pixelMetrics(maps, masks, { fprLimit: 0.3, variant: official ? 'official' : 'exact' });
const seconds = (performance.now() - start) / 1000;

console.log(
  `pixel AUROC ${result.auroc.toFixed(6)}  AP ${result.averagePrecision.toFixed(6)}  ` +
    `F1max ${result.f1Max.f1.toFixed(6)} @ ${result.f1Max.threshold.toPrecision(7)}  ` +
    `AUPRO@0.3 (${official ? 'official DiAD variant' : 'exact'}) ${result.aupro.toFixed(6)}`,
);
console.log(
  `metrics wall time ${seconds.toFixed(2)} s (every distinct score is a threshold, no binning); ` +
    `peak RSS of the process ${mb(process.resourceUsage().maxRSS)} (node ${process.version}, ${process.arch})`,
);

if (verify) {
  const flat = new Float64Array(pixels);
  const labels = new Uint8Array(pixels);
  maps.forEach((map, m) => {
    flat.set(map.data, m * size * size);
  });
  masks.forEach((mask, m) => {
    for (let i = 0; i < mask.data.length; i++) labels[m * size * size + i] = mask.data[i] !== 0 ? 1 : 0;
  });
  const check = rankingMetrics(flat, labels);
  const difference = Math.max(
    Math.abs(check.auroc - result.auroc),
    Math.abs(check.averagePrecision - result.averagePrecision),
    Math.abs(check.f1Max.f1 - result.f1Max.f1),
  );
  console.log(`verify: largest difference to the float64 sort path ${difference.toExponential(2)}`);
}
