import { createServer } from 'node:net';

/** A port that was free on 127.0.0.1 a moment ago (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `fn` until it returns a value other than undefined (generous timeout for a loaded machine). */
export async function poll<T>(
  fn: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * A TCP forwarder in front of a server: close() cuts every connection and stops listening (the peer "goes
 * down" as the client sees it, while the server behind it keeps running), open() listens again on the same port.
 */
export class TcpCut {
  private server: import('node:net').Server | null = null;
  private readonly sockets = new Set<import('node:net').Socket>();
  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}
  async open(): Promise<void> {
    const net = await import('node:net');
    const server = net.createServer((inbound) => {
      const outbound = net.connect(this.target, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.sockets.delete(s);
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }
  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/**
 * Stops a snap7 server only once no client is connected: snap7 kills worker threads that do not end within
 * its timeout, which aborts the process when a worker waits on a JavaScript read/write callback.
 */
export async function stopSnap7(server: { ClientsCount(): number; Stop(cb: () => void): void }) {
  const t0 = Date.now();
  while (server.ClientsCount() > 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
  await new Promise<void>((r) => server.Stop(() => r()));
}
