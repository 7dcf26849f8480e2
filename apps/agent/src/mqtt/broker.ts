import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';

/** The embedded MQTT broker (aedes, in-process, memory persistence): the default for a single-box install. */
export class EmbeddedBroker {
  private constructor(
    readonly aedes: Aedes,
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** With `auth`, clients must log in with that user name and password. */
  static async start(
    host: string,
    port: number,
    auth?: { username: string; password: string },
  ): Promise<EmbeddedBroker> {
    const aedes = await Aedes.createBroker(
      auth
        ? {
            authenticate: (_client, username, password, done) =>
              done(null, username === auth.username && password?.toString('utf8') === auth.password),
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
