import sharp from 'sharp';

/**
 * Ground-truth mask at the anomaly-map size: nearest-neighbour resize; a pixel is a defect when any colour
 * channel is non-zero (MVTec masks use 255, VisA masks hold class indices 1..n, often as palette PNGs whose
 * colours need not have a red component). Null path gives an all-zero mask (a good image).
 */
export async function loadMask(path: string | null, width: number, height: number): Promise<Uint8Array> {
  const out = new Uint8Array(width * height);
  if (path === null) return out;
  let decoded: { data: Buffer; info: { channels: number } };
  try {
    decoded = await sharp(path)
      .removeAlpha()
      .resize(width, height, { kernel: 'nearest', fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`cannot read mask ${path}: ${(err as Error).message}`);
  }
  const { data, info } = decoded;
  const c = info.channels;
  for (let i = 0; i < out.length; i++) {
    let on = 0;
    for (let k = 0; k < c; k++) if (data[i * c + k] > 0) on = 1;
    out[i] = on;
  }
  return out;
}
