import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { passwordChecker } from '../security/passwords.js';

/** The embedded MQTT broker (aedes, in-process, memory persistence): the default for a single-box install. */
export class EmbeddedBroker {
  private constructor(
    readonly aedes: Aedes,
    private readonly server: Server,
    readonly port: number,
  ) {}

  /**
   * With `auth`, clients must log in with that user name and password, checked against a scrypt hash in constant
   * time, failures throttled per user name.
   */
  static async start(
    host: string,
    port: number,
    auth?: { username: string; password?: string; passwordHash?: string },
  ): Promise<EmbeddedBroker> {
    const check = auth ? passwordChecker([auth]) : null;
    const aedes = await Aedes.createBroker(
      check
        ? {
            authenticate: (_client, username, password, done) =>
              done(null, check(username ?? '', password?.toString('utf8') ?? '')),
          }
        : {},
    );
    const server = createServer(aedes.handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const addr = server.address();
    return new EmbeddedBroker(aedes, server, typeof addr === 'object' && addr ? addr.port : port);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
