import sharp from 'sharp';

/**
 * Ground-truth mask at the anomaly-map size: nearest-neighbour resize, any non-zero pixel is a defect (MVTec
 * masks use 255, VisA masks hold class indices 1..n). Null path gives an all-zero mask.
 */
export async function loadMask(path: string | null, width: number, height: number): Promise<Uint8Array> {
  const out = new Uint8Array(width * height);
  if (path === null) return out;
  let data: Buffer;
  try {
    data = await sharp(path)
      .extractChannel(0)
      .resize(width, height, { kernel: 'nearest', fit: 'fill' })
      .raw()
      .toBuffer();
  } catch (err) {
    throw new Error(`cannot read mask ${path}: ${(err as Error).message}`);
  }
  for (let i = 0; i < out.length; i++) out[i] = data[i] > 0 ? 1 : 0;
  return out;
}
