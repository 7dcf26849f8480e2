/** Deterministic PRNG (mulberry32) so property tests replay identically. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer scores in [0, levels) (many ties) with labels correlated to them; both classes present. */
export function tiedCase(
  random: () => number,
  n: number,
  levels: number,
): { scores: number[]; labels: number[] } {
  const labels = Array.from({ length: n }, (_, i) => (i < 2 ? i : random() < 0.3 ? 1 : 0));
  const scores = labels.map((l) => Math.floor(Math.min(levels - 1, random() * levels * (0.7 + 0.5 * l))));
  return { scores, labels };
}

/** Random maps with rectangular defects in some images; float32 scores quantised to create ties. */
export function randomMaps(
  random: () => number,
  count: number,
  width: number,
  height: number,
): {
  maps: { width: number; height: number; data: Float32Array }[];
  masks: { width: number; height: number; data: Uint8Array }[];
} {
  const maps = [];
  const masks = [];
  for (let m = 0; m < count; m++) {
    const data = new Float32Array(width * height);
    const mask = new Uint8Array(width * height);
    if (m === 0 || random() < 0.5) {
      const x0 = Math.floor(random() * (width - 2));
      const y0 = Math.floor(random() * (height - 2));
      const w = 1 + Math.floor(random() * (width - x0 - 1));
      const h = 1 + Math.floor(random() * (height - y0 - 1));
      for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) mask[y * width + x] = 1;
    }
    for (let i = 0; i < data.length; i++)
      data[i] = Math.round((random() + 0.6 * mask[i] * random()) * 50) / 50;
    maps.push({ width, height, data });
    masks.push({ width, height, data: mask });
  }
  return { maps, masks };
}
