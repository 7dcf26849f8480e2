import { backoffDelay } from '../clock.js';
import { ControlPlaneError } from './client.js';

/**
 * Whether a control-plane call may succeed if simply repeated: no answer (timeout, refused or reset connection),
 * a 5xx (a replica or the load balancer in trouble), 408 or 429. A 4xx otherwise, a wrong body or a local
 * error (disk full, bundle too large) will fail the same way again.
 */
export function isTransient(e: unknown): boolean {
  if (!(e instanceof ControlPlaneError)) return false;
  if (e.transient !== undefined) return e.transient;
  if (e.status === undefined) return false;
  return e.status >= 500 || e.status === 408 || e.status === 429;
}

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts: number;
  backoff: { initialMs: number; maxMs: number };
  sleep: (ms: number) => Promise<void>;
  /** Called before each wait (for logs and metrics). */
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn`, repeating it with backoff while it fails transiently; the last error is thrown. */
export async function withRetry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  if (!Number.isInteger(o.attempts) || o.attempts < 1)
    throw new RangeError('withRetry: attempts: expected an integer >= 1');
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt + 1 >= o.attempts || !isTransient(e)) throw e;
      const delay = backoffDelay(attempt, o.backoff.initialMs, o.backoff.maxMs);
      o.onRetry?.(e, attempt + 1, delay);
      await o.sleep(delay);
    }
  }
}
