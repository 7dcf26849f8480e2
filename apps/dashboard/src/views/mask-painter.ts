import type { AppContext } from '../context.js';
import { h, replace } from '../dom.js';

export interface MaskPainter {
  element: HTMLElement;
  /** The painted region as a PNG (white = defect, black elsewhere, the image's size), base64; null if none. */
  maskPngBase64(): Promise<string | null>;
}

/**
 * Paints the defect region over the result's image: a canvas of the image's own pixel size laid over it (so the
 * mask lines up with the image whatever size it is shown at), a round brush, an eraser and clear. The label API
 * takes the mask as a PNG; it is made from the canvas' alpha, so anti-aliased edges count as painted.
 */
export function maskPainter(ctx: AppContext, resultId: string): MaskPainter {
  const canvas = h('canvas', {
    class: 'mask-canvas',
    'aria-label': 'Defect mask',
    'data-testid': 'mask-canvas',
  });
  const stage = h('div', { class: 'mask-stage' }, h('p', { class: 'muted' }, 'Loading image…'));
  const brush = h('button', { type: 'button', class: 'toggle', 'aria-pressed': 'true' }, 'Brush');
  const eraser = h('button', { type: 'button', class: 'toggle', 'aria-pressed': 'false' }, 'Erase');
  const clear = h('button', { type: 'button' }, 'Clear');
  const size = h('input', { type: 'range', min: 1, max: 64, value: 12, name: 'brush-size' });
  const coverage = h('span', { role: 'status', 'data-testid': 'mask-coverage' }, 'Nothing painted.');
  const controls = h(
    'div',
    { class: 'mask-controls' },
    brush,
    eraser,
    clear,
    h('label', null, 'Brush size ', size),
    coverage,
  );
  for (const b of [brush, eraser, clear]) b.disabled = true;
  size.disabled = true;
  const element = h(
    'section',
    { class: 'mask-painter', 'aria-label': 'Paint the defect region' },
    h('h3', null, 'Defect region (optional)'),
    stage,
    controls,
  );
  const g = canvas.getContext('2d');
  let painted = 0;
  let erasing = false;

  const measure = () => {
    if (!g || !canvas.width) return;
    const a = g.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 3; i < a.length; i += 4) if (a[i] > 0) n++;
    painted = n;
    const pct = (100 * n) / (canvas.width * canvas.height);
    replace(coverage, n ? `Mask covers ${pct.toFixed(1)} % of the image.` : 'Nothing painted.');
  };
  const setMode = (erase: boolean) => {
    erasing = erase;
    brush.setAttribute('aria-pressed', String(!erase));
    eraser.setAttribute('aria-pressed', String(erase));
  };
  brush.addEventListener('click', () => setMode(false));
  eraser.addEventListener('click', () => setMode(true));
  clear.addEventListener('click', () => {
    g?.clearRect(0, 0, canvas.width, canvas.height);
    measure();
  });

  /** Canvas pixels from a pointer position: the canvas is shown scaled. */
  const at = (e: PointerEvent) => {
    const r = canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - r.left) * canvas.width) / r.width,
      y: ((e.clientY - r.top) * canvas.height) / r.height,
    };
  };
  let last: { x: number; y: number } | null = null;
  const stroke = (p: { x: number; y: number }) => {
    if (!g) return;
    // The brush size is in screen pixels; in image pixels it is scaled like the image.
    const scale = canvas.width / (canvas.getBoundingClientRect().width || canvas.width);
    g.globalCompositeOperation = erasing ? 'destination-out' : 'source-over';
    g.strokeStyle = g.fillStyle = 'rgb(255, 40, 40)';
    g.lineWidth = Number(size.value) * scale;
    g.lineCap = g.lineJoin = 'round';
    g.beginPath();
    g.moveTo(last?.x ?? p.x, last?.y ?? p.y);
    g.lineTo(p.x, p.y);
    g.stroke();
    last = p;
  };
  canvas.addEventListener('pointerdown', (e) => {
    if (!canvas.width) return;
    canvas.setPointerCapture(e.pointerId);
    last = null;
    stroke(at(e));
  });
  canvas.addEventListener('pointermove', (e) => {
    if (last) stroke(at(e));
  });
  const end = () => {
    if (!last) return;
    last = null;
    measure();
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  void (async () => {
    const blob = await ctx.api.blob(`/results/${encodeURIComponent(resultId)}/image`).catch(() => null);
    if (!blob) {
      replace(stage, h('p', { class: 'muted' }, 'No image was stored for this result: nothing to paint on.'));
      return;
    }
    const img = h('img', {
      src: URL.createObjectURL(blob),
      alt: 'Image to paint the defect region on',
      class: 'mask-image',
    });
    await img.decode().catch(() => {});
    // Once decoded the picture stays on screen; the blob URL is no longer needed.
    URL.revokeObjectURL(img.src);
    if (!img.naturalWidth) {
      replace(stage, h('p', { class: 'muted' }, 'The stored image could not be shown.'));
      return;
    }
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    stage.style.setProperty('--ar', String(img.naturalWidth / img.naturalHeight));
    replace(stage, img, canvas);
    for (const b of [brush, eraser, clear]) b.disabled = false;
    size.disabled = false;
  })();

  return {
    element,
    async maskPngBase64() {
      if (!g || !painted) return null;
      const src = g.getImageData(0, 0, canvas.width, canvas.height);
      const out = document.createElement('canvas');
      out.width = canvas.width;
      out.height = canvas.height;
      const o = out.getContext('2d')!;
      const bw = o.createImageData(canvas.width, canvas.height);
      for (let i = 0; i < src.data.length; i += 4) {
        const v = src.data[i + 3] > 0 ? 255 : 0;
        bw.data[i] = bw.data[i + 1] = bw.data[i + 2] = v;
        bw.data[i + 3] = 255;
      }
      o.putImageData(bw, 0, 0);
      const png = await new Promise<Blob>((resolve, reject) =>
        out.toBlob((b) => (b ? resolve(b) : reject(new Error('could not encode the mask'))), 'image/png'),
      );
      const bytes = new Uint8Array(await png.arrayBuffer());
      let bin = '';
      for (let i = 0; i < bytes.length; i += 0x8000)
        bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(bin);
    },
  };
}
