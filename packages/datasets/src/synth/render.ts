import { synthCategory } from './categories/index.js';
import { hashSeed, Rng } from './rng.js';
import type { CategorySpec, Scene, Tier } from './types.js';

export type SynthSplit = 'train' | 'test';

export interface SampleRequest {
  category: string;
  seed: number;
  size: number;
  tier: Tier;
  split: SynthSplit;
  index: number;
  /** Defect type name of the category for this tier, or null for a good sample. */
  defect: string | null;
}

export interface RenderedSample {
  size: number;
  /** The image as written to disk, HxWx3 RGB bytes. */
  image: Uint8Array;
  /** The same part under the same light and sensor noise, without the defect (equal to image for good ones). */
  clean: Uint8Array;
  /** HxW, 255 = defective pixel; null for good samples. */
  mask: Uint8Array | null;
}

/** Camera and lighting of one shot: applied identically to the clean and defective renderings. */
interface Look {
  gain: number;
  gradX: number;
  gradY: number;
  cast: [number, number, number];
  noiseSigma: number;
}

function sampleLook(rng: Rng): Look {
  return {
    gain: rng.range(0.88, 1.12),
    gradX: rng.range(-0.08, 0.08),
    gradY: rng.range(-0.08, 0.08),
    cast: [1 + rng.range(-0.02, 0.02), 1 + rng.range(-0.02, 0.02), 1 + rng.range(-0.02, 0.02)],
    noiseSigma: rng.range(0.008, 0.016),
  };
}

export function renderScene(scene: Scene): Float32Array {
  const { size } = scene;
  const img = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) scene.shade(x + 0.5, y + 0.5, img, (y * size + x) * 3);
  }
  return img;
}

/** Applies lighting and sensor noise (same noise stream for every image passed) and quantises to bytes. */
function expose(images: Float32Array[], size: number, look: Look, noiseSeed: number): Uint8Array[] {
  const outs = images.map(() => new Uint8Array(size * size * 3));
  const rng = new Rng(noiseSeed);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const light = look.gain * (1 + look.gradX * (x / size - 0.5) + look.gradY * (y / size - 0.5));
      const p = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const noise = look.noiseSigma * rng.normal();
        for (let k = 0; k < images.length; k++) {
          const v = images[k][p + c] * light * look.cast[c] + noise;
          outs[k][p + c] = Math.round(Math.min(Math.max(v, 0), 1) * 255);
        }
      }
    }
  }
  return outs;
}

const MAX_ATTEMPTS = 24;

function paintDefect(
  spec: CategorySpec,
  defect: string,
  scene: Scene,
  clean: Float32Array,
  tier: Tier,
  rng: Rng,
): { out: Float32Array; mask: Uint8Array } {
  const painter = spec.defects[tier].find((d) => d.name === defect);
  if (!painter) {
    const known = spec.defects[tier].map((d) => d.name).join(', ');
    throw new RangeError(
      `category ${spec.name} has no ${tier} defect "${defect}"; expected one of: ${known}`,
    );
  }
  const { size } = scene;
  // a defect must be big enough to see at this size; retry placements that fall mostly off the part
  const minArea = Math.max(8, Math.round(20 * (size / 256) ** 2));
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const out = clean.slice();
    const mask = new Uint8Array(size * size);
    painter.paint({ size, scene, rng, tier, clean, out, mask });
    let area = 0;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i]) area++;
      // the mask is the exact set of changed pixels: nothing outside it may differ
      else for (let c = 0; c < 3; c++) out[i * 3 + c] = clean[i * 3 + c];
    }
    if (area >= minArea) return { out, mask };
  }
  throw new Error(`could not place a ${defect} defect on ${spec.name} in ${MAX_ATTEMPTS} attempts`);
}

/** Renders one sample; a pure function of the request. */
export function renderSample(req: SampleRequest): RenderedSample {
  const spec = synthCategory(req.category);
  if (!Number.isInteger(req.size) || req.size < 32 || req.size > 2048) {
    throw new RangeError(`size must be an integer in [32, 2048], got ${req.size}`);
  }
  const key = [req.seed, spec.name, req.split, req.index] as const;
  const scene = spec.createScene(new Rng(hashSeed(...key, 'scene')), req.size);
  const look = sampleLook(new Rng(hashSeed(...key, 'look')));
  const noiseSeed = hashSeed(...key, 'noise');
  const clean = renderScene(scene);
  if (req.defect === null) {
    const [image] = expose([clean], req.size, look, noiseSeed);
    return { size: req.size, image, clean: image, mask: null };
  }
  const rng = new Rng(hashSeed(...key, req.tier, req.defect));
  const { out, mask } = paintDefect(spec, req.defect, scene, clean, req.tier, rng);
  const [image, cleanBytes] = expose([out, clean], req.size, look, noiseSeed);
  for (let i = 0; i < mask.length; i++) mask[i] = mask[i] ? 255 : 0;
  return { size: req.size, image, clean: cleanBytes, mask };
}
