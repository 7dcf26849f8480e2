/**
 * Labels the 8-connected anomalous regions of one mask (non-zero = anomalous), like
 * scipy.ndimage.label with a 3x3 structure or skimage.measure.label with full connectivity.
 * Scratch buffers are reused across images so labelling a whole test set allocates once.
 */
export class RegionLabeller {
  private parent = new Int32Array(0);
  private remap = new Int32Array(0);
  /** labels[i]: 0 for normal pixels, 1..count for the region of pixel i (valid after label()). */
  labels = new Int32Array(0);
  /** areas[r]: pixel count of region r, 1..count (valid after label()). */
  areas = new Int32Array(0);

  private ensure(size: number): void {
    if (this.labels.length >= size) return;
    this.labels = new Int32Array(size);
    this.parent = new Int32Array(size + 1);
    this.remap = new Int32Array(size + 1);
    this.areas = new Int32Array(size + 1);
  }

  private find(x: number): number {
    const parent = this.parent;
    let root = x;
    while (parent[root] !== root) root = parent[root];
    while (parent[x] !== root) {
      const next = parent[x];
      parent[x] = root;
      x = next;
    }
    return root;
  }

  private union(a: number, b: number): number {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return ra;
    // Keep the smaller provisional label as root so roots stay stable in scan order.
    if (ra < rb) {
      this.parent[rb] = ra;
      return ra;
    }
    this.parent[ra] = rb;
    return rb;
  }

  /** Labels `mask` (width*height, row-major); returns the number of regions. */
  label(mask: Uint8Array, width: number, height: number): number {
    const size = width * height;
    this.ensure(size);
    const labels = this.labels;
    const parent = this.parent;
    let next = 1;
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let x = 0; x < width; x++) {
        const i = row + x;
        if (mask[i] === 0) {
          labels[i] = 0;
          continue;
        }
        let current = 0;
        if (x > 0 && labels[i - 1] !== 0) current = labels[i - 1];
        if (y > 0) {
          const up = i - width;
          if (x > 0 && labels[up - 1] !== 0)
            current = current === 0 ? labels[up - 1] : this.union(current, labels[up - 1]);
          if (labels[up] !== 0) current = current === 0 ? labels[up] : this.union(current, labels[up]);
          if (x + 1 < width && labels[up + 1] !== 0) {
            current = current === 0 ? labels[up + 1] : this.union(current, labels[up + 1]);
          }
        }
        if (current === 0) {
          current = next++;
          parent[current] = current;
        }
        labels[i] = current;
      }
    }
    const remap = this.remap;
    const areas = this.areas;
    let count = 0;
    for (let p = 1; p < next; p++) {
      if (this.find(p) === p) {
        count++;
        remap[p] = count;
        areas[count] = 0;
      }
    }
    for (let i = 0; i < size; i++) {
      const l = labels[i];
      if (l !== 0) {
        const r = remap[this.find(l)];
        labels[i] = r;
        areas[r]++;
      }
    }
    return count;
  }
}
