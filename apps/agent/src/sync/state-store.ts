import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { EnrolResponse, ModelRef } from '@diad/protocol';
import { z } from 'zod';

const Persisted = z.object({
  enrolment: EnrolResponse.nullable().default(null),
  activeBundle: z.object({ path: z.string(), model: ModelRef }).nullable().default(null),
  shadowBundle: z.object({ path: z.string(), model: ModelRef }).nullable().default(null),
  appliedRevision: z.number().int().nonnegative().nullable().default(null),
  thresholds: z
    .object({
      version: z.number(),
      image: z.number().nullable(),
      pixel: z.number().nullable(),
      categoryThresholds: z.record(z.string(), z.number()),
    })
    .nullable()
    .default(null),
});
export type PersistedState = z.infer<typeof Persisted>;

/** The agent's own small state (credential, active bundle, applied revision): one JSON file, replaced atomically. */
export class StateStore {
  private state: PersistedState;

  constructor(private readonly path: string) {
    let raw: unknown = {};
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new TypeError(`${path}: unreadable agent state: ${(e as Error).message}`);
    }
    const r = Persisted.safeParse(raw);
    if (!r.success)
      throw new TypeError(`${path}: ${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`);
    this.state = r.data;
  }

  get(): PersistedState {
    return this.state;
  }

  update(patch: Partial<PersistedState>) {
    this.state = { ...this.state, ...patch };
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    // The credential is a secret: owner-only permissions.
    writeFileSync(tmp, JSON.stringify(this.state, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
