import type { ModelRef } from '@diad/protocol';
import type { Inspector } from './types.js';

/**
 * Holds the active model (and an optional shadow candidate). A frame takes a lease on the models at its start,
 * so a switch happens between frames: the old model is closed only after its last leased frame finished.
 */
export class ModelManager {
  private active: Inspector | null = null;
  private shadow: Inspector | null = null;
  private readonly leases = new Map<Inspector, number>();
  private readonly retired = new Set<Inspector>();

  constructor(initial?: Inspector | null) {
    this.active = initial ?? null;
  }

  get activeModel(): ModelRef | null {
    return this.active?.model ?? null;
  }
  get shadowModel(): ModelRef | null {
    return this.shadow?.model ?? null;
  }
  get provider(): string | null {
    return this.active?.provider ?? null;
  }
  get variant(): string | null {
    return this.active?.variant ?? null;
  }
  get activeInspector(): Inspector | null {
    return this.active;
  }
  get shadowInspector(): Inspector | null {
    return this.shadow;
  }

  /** Takes the current models for one frame; call release() with the same object when done. */
  lease(): { active: Inspector | null; shadow: Inspector | null } {
    const l = { active: this.active, shadow: this.shadow };
    for (const m of [l.active, l.shadow]) if (m) this.leases.set(m, (this.leases.get(m) ?? 0) + 1);
    return l;
  }

  async release(l: { active: Inspector | null; shadow: Inspector | null }): Promise<void> {
    for (const m of [l.active, l.shadow]) {
      if (!m) continue;
      const n = (this.leases.get(m) ?? 1) - 1;
      if (n > 0) this.leases.set(m, n);
      else {
        this.leases.delete(m);
        if (this.retired.has(m)) await this.closeNow(m);
      }
    }
  }

  /** Makes `next` the active model (already loaded and warmed up). */
  async activate(next: Inspector): Promise<void> {
    const old = this.active;
    this.active = next;
    if (this.shadow && this.shadow === next) this.shadow = null;
    if (old && old !== next) await this.retire(old);
  }

  async setShadow(next: Inspector | null): Promise<void> {
    const old = this.shadow;
    this.shadow = next;
    if (old && old !== next && old !== this.active) await this.retire(old);
  }

  async close(): Promise<void> {
    for (const m of [this.active, this.shadow]) if (m) await this.closeNow(m);
    this.active = null;
    this.shadow = null;
  }

  private async retire(m: Inspector) {
    if ((this.leases.get(m) ?? 0) > 0) this.retired.add(m);
    else await this.closeNow(m);
  }

  private async closeNow(m: Inspector) {
    this.retired.delete(m);
    await m.close().catch(() => {});
  }
}
