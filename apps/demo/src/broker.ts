import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';

// aedes-persistence is CommonJS whose typings declare an ES default export; load it the way it is written.
const memoryPersistence = createRequire(import.meta.url)('aedes-persistence') as () => unknown;

/**
 * The in-process MQTT broker (aedes, MQTT 3.1.1) on a fixed address. It can be stopped and started again on the
 * same port; sessions, subscriptions and queued QoS 1 messages live in one persistence object kept across
 * restarts, as a broker with on-disk persistence would keep them.
 */
export class DemoBroker {
  private aedes: Aedes | null = null;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly persistence = memoryPersistence();
  private boundPort: number;

  constructor(
    readonly host: string,
    port: number,
  ) {
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new RangeError(`port: expected an integer in [0, 65535], got ${port}`);
    this.boundPort = port;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `mqtt://${this.host}:${this.boundPort}`;
  }

  get running(): boolean {
    return this.server !== null;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const aedes = await Aedes.createBroker({ persistence: this.persistence });
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      aedes.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, this.host, () => resolve());
    });
    const addr = server.address();
    if (addr && typeof addr === 'object') this.boundPort = addr.port;
    this.aedes = aedes;
    this.server = server;
  }

  /** Stops listening and drops every connection, as a broker outage would. */
  async stop(): Promise<void> {
    const { aedes, server } = this;
    if (!aedes || !server) return;
    this.aedes = null;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
