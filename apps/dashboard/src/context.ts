import type { Api } from './api.js';
import type { LiveResults } from './live.js';
import type { Router } from './router.js';
import type { Session } from './session.js';
import type { Device, Line, ModelVersion } from './types.js';

/** What every view gets: the API, the session, the live stream, navigation and shared look-ups. */
export interface AppContext {
  api: Api;
  session: Session;
  live: LiveResults;
  router: Router;
  lines(): Promise<Line[]>;
  models(): Promise<ModelVersion[]>;
  devices(): Promise<Device[]>;
}

/** Caches a look-up for a short while so switching views does not refetch lines and models every time. */
export function cached<T>(load: () => Promise<T>, ttlMs = 30_000): () => Promise<T> {
  let value: Promise<T> | null = null;
  let at = 0;
  return () => {
    if (!value || Date.now() - at > ttlMs) {
      at = Date.now();
      value = load().catch((e) => {
        value = null;
        throw e;
      });
    }
    return value;
  };
}
