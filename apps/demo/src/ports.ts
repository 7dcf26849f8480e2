import { createServer } from 'node:net';

/** Whether a TCP port can be bound on host now (0 always can). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** A port the OS reports free on host (for servers that cannot listen on port 0 themselves). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** `preferred` when free, else (only when `fallback`) any free port. */
export async function pickPort(host: string, preferred: number, fallback: boolean): Promise<number> {
  if (preferred === 0) return freePort(host);
  if (await portFree(host, preferred)) return preferred;
  if (!fallback) throw new RangeError(`port ${preferred} on ${host} is in use`);
  return freePort(host);
}
