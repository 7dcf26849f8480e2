import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The methods scored for every image: DiAD, its autoencoder alone, and raw pixel distance. */
export const METHODS = ['diad', 'autoencoder', 'pixel'] as const;
export type Method = (typeof METHODS)[number];

export const METHOD_LABELS: Record<Method, string> = {
  diad: 'DiAD',
  autoencoder: 'Autoencoder only',
  pixel: 'Pixel distance',
};

/** What changes the result of one image; part of the cache key. */
export interface CacheKeyParts {
  bundleSha256: string;
  /** sha256 of the image file: the same picture under another path (e.g. the good images shared by the two
   * synthetic tiers) is computed once when runs share a cache folder. */
  imageSha256: string;
  seed: number;
  steps: number | null;
  startStep: number | null;
  draws: number | null;
  methods: readonly Method[];
}

/** Bumped when the pipeline computes the same image differently (2: Pillow-exact resize, alpha dropped). */
const CACHE_VERSION = 2;

export function cacheKey(parts: CacheKeyParts): string {
  const text = JSON.stringify({ v: CACHE_VERSION, ...parts, methods: [...parts.methods] });
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** One cached image: scores and timings in the JSONL line, maps in a binary file beside it. */
export interface CachedImage {
  key: string;
  imagePath: string;
  scores: Partial<Record<Method, number>>;
  /** Inference time per method, ms. */
  ms: Partial<Record<Method, number>>;
  mapWidth: number;
  mapHeight: number;
}

/**
 * Per-image results of earlier runs, so an interrupted evaluation resumes where it stopped. Lines that do not
 * parse (a run killed mid-write) and entries whose map file is missing or the wrong size are ignored and
 * computed again.
 */
export class EvalCache {
  private readonly entries = new Map<string, CachedImage>();

  private constructor(
    private readonly dir: string,
    private readonly indexPath: string,
  ) {}

  static async open(dir: string): Promise<EvalCache> {
    await mkdir(join(dir, 'maps'), { recursive: true });
    // the cache is large and machine-specific: keep it out of git when a report folder is committed
    await writeFile(join(dir, '.gitignore'), '*\n');
    const cache = new EvalCache(dir, join(dir, 'results.jsonl'));
    const text = await readFile(cache.indexPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as CachedImage;
        if (
          typeof e.key === 'string' &&
          e.scores &&
          Number.isInteger(e.mapWidth) &&
          Number.isInteger(e.mapHeight)
        ) {
          cache.entries.set(e.key, e);
        }
      } catch {
        // a torn last line from an interrupted run
      }
    }
    return cache;
  }

  get size(): number {
    return this.entries.size;
  }

  private mapPath(key: string): string {
    return join(this.dir, 'maps', `${key}.f32`);
  }

  /** The cached entry and its maps, or null when absent or incomplete. */
  async get(
    key: string,
    methods: readonly Method[],
  ): Promise<{ entry: CachedImage; maps: Record<Method, Float32Array> } | null> {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (methods.some((m) => typeof entry.scores[m] !== 'number')) return null;
    const plane = entry.mapWidth * entry.mapHeight;
    const buf = await readFile(this.mapPath(key)).catch(() => null);
    if (!buf || buf.byteLength !== plane * 4 * methods.length) return null;
    const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const maps = {} as Record<Method, Float32Array>;
    methods.forEach((m, i) => {
      maps[m] = all.subarray(i * plane, (i + 1) * plane);
    });
    return { entry, maps };
  }

  /** Stores maps first (atomically), then the index line, so a line never points at a half-written file. */
  async put(
    entry: CachedImage,
    methods: readonly Method[],
    maps: Record<Method, Float32Array>,
  ): Promise<void> {
    const plane = entry.mapWidth * entry.mapHeight;
    const all = new Float32Array(plane * methods.length);
    methods.forEach((m, i) => {
      if (maps[m].length !== plane)
        throw new RangeError(`map of ${m} must hold ${plane} values, got ${maps[m].length}`);
      all.set(maps[m], i * plane);
    });
    const path = this.mapPath(entry.key);
    await writeFile(`${path}.tmp`, new Uint8Array(all.buffer));
    await rename(`${path}.tmp`, path);
    await appendFile(this.indexPath, `${JSON.stringify(entry)}\n`);
    this.entries.set(entry.key, entry);
  }
}
