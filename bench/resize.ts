/**
 * What the Pillow-exact resize costs and what it changes, against libvips' own bilinear resize:
 *   npx tsx --conditions=@diad/source bench/resize.ts [--runs N]
 * 1. CPU time per frame (process user + system, sharp concurrency 1) to decode and resize camera-sized frames to
 *    256×256: decodeToRgb (full decode + resizeLikePil) vs libvips decode + resize.
 * 2. On the micro-random parity bundle's golden camera frames: the largest grey-level difference between the two
 *    resizes, and the score each input gets (seed 0, one draw).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { DiadPipeline, decodeToRgb } from '@diad/pipeline';
import sharp from 'sharp';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(values.runs);
const dir = 'packages/pipeline/test/fixtures/micro-random';
const jpg = readFileSync(`${dir}/golden/case2.jpg`);
const png = readFileSync(`${dir}/golden/case1.png`);
sharp.concurrency(1);
const big = await sharp(jpg).resize(1920, 1080, { fit: 'fill' }).png().toBuffer();
const vipsResize = (b: Uint8Array | string, size: number) =>
  sharp(b)
    .toColourspace('srgb')
    .resize(size, size, { fit: 'fill', kernel: 'linear' })
    .removeAlpha()
    .raw()
    .toBuffer();

async function cpuMs(f: () => Promise<unknown>): Promise<number> {
  await f();
  const c0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) await f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / runs;
}

console.log(`load average ${loadavg()[0].toFixed(1)}`);
for (const [label, b] of [
  ['720x477 JPEG', jpg],
  ['640x480 PNG', png],
  ['1920x1080 PNG', big],
] as const) {
  const mine = await cpuMs(() => decodeToRgb(b, { width: 256, height: 256, resize: 'bilinear' }));
  const vips = await cpuMs(() => vipsResize(b, 256));
  console.log(
    `${label} -> 256x256: decode + resizeLikePil ${mine.toFixed(1)} ms CPU; libvips decode + resize ${vips.toFixed(1)} ms CPU`,
  );
}

const p = await DiadPipeline.create(dir);
const size = p.manifest.input.width;
for (const f of ['case1.png', 'case2.jpg']) {
  const path = `${dir}/golden/${f}`;
  const mine = await decodeToRgb(path, { width: size, height: size, resize: 'bilinear' });
  const vips = new Uint8Array(await vipsResize(path, size));
  let max = 0;
  for (let i = 0; i < mine.length; i++) max = Math.max(max, Math.abs(mine[i] - vips[i]));
  const a = await p.inspect(path, { seed: 0, draws: 1 });
  const v = await p.inspect({ data: vips, width: size, height: size, channels: 3 }, { seed: 0, draws: 1 });
  const rel = Math.abs(a.score - v.score) / Math.abs(a.score);
  console.log(
    `${f}: libvips vs Pillow-exact input differ by up to ${max} grey levels; score ${a.score.toFixed(6)} vs ${v.score.toFixed(6)} (${(100 * rel).toFixed(2)} %)`,
  );
}
await p.close();
