import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestImage } from './test-images.js';

export interface FeederOptions {
  hotFolder: string;
  images: readonly TestImage[];
  /** Frames per second. */
  rate: number;
  /** Part ids are `<prefix>-<sequence>`; the sequence continues from `startAt`. */
  partPrefix: string;
  startAt?: number;
  /** Files allowed to wait in the hot folder before the feeder pauses (the agent is slower than the rate). */
  maxPending?: number;
  /** Processed files kept in done/ and failed/; older ones are deleted. */
  keepProcessed?: number;
  onFed?: (partId: string, image: TestImage) => void;
  onError?: (err: Error) => void;
}

/** Drops test images into an agent's hot folder at a steady rate, each written whole (copy, then rename). */
export class HotFolderFeeder {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private seq: number;
  private index = 0;
  fed = 0;
  paused = false;

  constructor(private readonly o: FeederOptions) {
    if (!(o.rate > 0 && o.rate <= 1000))
      throw new RangeError(`rate: expected (0, 1000] frames/s, got ${o.rate}`);
    if (o.images.length === 0) throw new RangeError('images: expected at least one test image');
    this.seq = o.startAt ?? 1;
  }

  async start(): Promise<void> {
    await mkdir(this.o.hotFolder, { recursive: true });
    this.timer = setInterval(() => void this.tick(), 1000 / this.o.rate);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Feeds one image now (tests drive the feeder by hand); returns its part id. */
  async feedOne(image?: TestImage, partId?: string): Promise<string> {
    const img = image ?? this.o.images[this.index++ % this.o.images.length];
    const id = partId ?? `${this.o.partPrefix}-${String(this.seq++).padStart(6, '0')}`;
    const tmp = join(this.o.hotFolder, `.${id}.part`);
    await copyFile(img.path, tmp);
    await rename(tmp, join(this.o.hotFolder, `${id}.png`));
    this.fed++;
    this.o.onFed?.(id, img);
    return id;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const pending = (await readdir(this.o.hotFolder)).filter((f) => f.endsWith('.png')).length;
      this.paused = pending >= (this.o.maxPending ?? 8);
      if (!this.paused) await this.feedOne();
      if (this.fed % 100 === 0) await this.prune();
    } catch (e) {
      this.o.onError?.(e as Error);
    } finally {
      this.busy = false;
    }
  }

  private async prune(): Promise<void> {
    const keep = this.o.keepProcessed ?? 500;
    for (const sub of ['done', 'failed']) {
      const dir = join(this.o.hotFolder, sub);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      if (names.length <= keep) continue;
      const withTime = await Promise.all(
        names.map(async (n) => ({ n, t: (await stat(join(dir, n))).mtimeMs })),
      );
      withTime.sort((a, b) => a.t - b.t);
      for (const { n } of withTime.slice(0, withTime.length - keep)) await rm(join(dir, n), { force: true });
    }
  }
}
