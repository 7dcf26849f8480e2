import type { ResultView } from './types.js';

export type LiveState = 'connecting' | 'live' | 'offline';
type Listener = (r: ResultView) => void;
type StateListener = (s: LiveState) => void;

/**
 * One Server-Sent Events connection to /api/v1/results/stream for the whole app. EventSource cannot send an
 * Authorization header, so the token travels as access_token (the control plane accepts it on /stream only).
 * EventSource retries by itself after a dropped connection but gives up on an HTTP error; then we reconnect
 * with backoff (up to 30 s), and again at once when the page becomes visible.
 */
export class LiveResults {
  private source: EventSource | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<StateListener>();
  private retry: ReturnType<typeof setTimeout> | null = null;
  private delayMs = 1000;
  private token: (() => string | null) | null = null;
  state: LiveState = 'offline';

  constructor(private readonly url = '/api/v1/results/stream') {
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.token && this.state === 'offline') this.open();
    });
  }

  /** Opens the stream; `token` is asked again at every reconnect, so an expired session stops the retries. */
  connect(token: () => string | null): void {
    if (this.source) return;
    this.token = token;
    this.delayMs = 1000;
    this.open();
  }

  disconnect(): void {
    this.token = null;
    this.close();
    this.setState('offline');
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onState(fn: StateListener): () => void {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }

  private open(): void {
    this.close();
    const token = this.token?.();
    if (!token) {
      this.setState('offline');
      return;
    }
    this.setState('connecting');
    const es = new EventSource(`${this.url}?access_token=${encodeURIComponent(token)}`);
    this.source = es;
    es.onopen = () => {
      this.delayMs = 1000;
      this.setState('live');
    };
    es.addEventListener('result', (ev) => {
      let r: ResultView;
      try {
        r = JSON.parse((ev as MessageEvent<string>).data) as ResultView;
      } catch {
        return;
      }
      for (const fn of this.listeners) fn(r);
    });
    es.onerror = () => {
      if (es.readyState === EventSource.CONNECTING) {
        this.setState('connecting');
        return;
      }
      this.close();
      this.setState('offline');
      this.retry = setTimeout(() => this.open(), this.delayMs);
      this.delayMs = Math.min(30_000, this.delayMs * 2);
    };
  }

  private close(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.source?.close();
    this.source = null;
  }

  private setState(s: LiveState): void {
    if (s === this.state) return;
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }
}
