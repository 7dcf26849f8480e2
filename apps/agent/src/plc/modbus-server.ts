import { BlockList, createServer, isIP, type Server, type Socket } from 'node:net';
import type { InspectionResult } from '@diad/protocol';
import ModbusRTU from 'modbus-serial';
import type { Logger } from 'pino';
import { STATION_STRIDE } from './modbus-map.js';
import { ModbusStation } from './modbus-station.js';

export interface ModbusServerOptions {
  host: string;
  /** 0 picks a free port (see `port` after start()). */
  port: number;
  /** Client addresses allowed to connect: IPv4/IPv6 addresses or CIDR ranges ("10.0.0.0/24"). */
  allowedClients: string[];
  stations: string[];
  trigger: (station: string, partId: string) => Promise<InspectionResult>;
  canAccept: (station: string) => boolean;
  logger: Logger;
}

export interface ModbusLinkState {
  listening: boolean;
  clients: number;
  lastRequestAt: number | null;
  refusedConnections: number;
}

/** Builds a BlockList of allowed addresses; throws on an entry that is neither an address nor a CIDR range. */
export function allowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const family = isIP(addr);
    if (!family) throw new Error(`not an IP address or CIDR range: "${e}"`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

export function isAllowed(list: BlockList, remote: string | undefined): boolean {
  if (!remote) return false;
  const v4 = remote.startsWith('::ffff:') ? remote.slice(7) : remote;
  return isIP(v4) === 4 ? list.check(v4, 'ipv4') : list.check(v4, 'ipv6');
}

/**
 * Modbus TCP server for PLCs without OPC UA. Station k answers at `k * 100 + offset` in the coil, discrete
 * input, holding and input register tables (register map: modbus-map.ts, docs/plc.md); any unit id is
 * answered. Connections from addresses outside `allowedClients` are closed before any request is read.
 */
export class ModbusPlcServer {
  readonly stations = new Map<string, ModbusStation>();
  private readonly byIndex: ModbusStation[] = [];
  private server: InstanceType<typeof ModbusRTU.ServerTCP> | null = null;
  private readonly allowed: BlockList;
  private readonly link: ModbusLinkState = {
    listening: false,
    clients: 0,
    lastRequestAt: null,
    refusedConnections: 0,
  };
  port = 0;

  constructor(private readonly o: ModbusServerOptions) {
    this.allowed = allowList(o.allowedClients);
    for (const s of o.stations) {
      const st = new ModbusStation({
        station: s,
        trigger: o.trigger,
        canAccept: () => o.canAccept(s),
        onEvent: (e) => {
          if (e.kind === 'rejected') o.logger.warn({ station: s, ...e }, 'Modbus trigger refused');
        },
      });
      this.stations.set(s, st);
      this.byIndex.push(st);
    }
  }

  private at(addr: number): [ModbusStation | undefined, number] {
    const st = this.byIndex[Math.floor(addr / STATION_STRIDE)];
    this.link.lastRequestAt = Date.now();
    return [st, addr % STATION_STRIDE];
  }

  /** Starts listening; with port 0 a free port is picked (modbus-serial itself would take 502 for 0). */
  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const port = this.o.port || (await pickFreePort(this.o.host));
      try {
        await this.listen(port);
        return;
      } catch (e) {
        if (this.o.port || attempt >= 4 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      }
    }
  }

  private async listen(port: number): Promise<void> {
    const vector = {
      getCoil: (addr: number) => {
        const [st, off] = this.at(addr);
        return st?.readCoil(off) ?? false;
      },
      getDiscreteInput: (addr: number) => {
        const [st, off] = this.at(addr);
        return st?.readDiscrete(off) ?? false;
      },
      getInputRegister: (addr: number) => {
        const [st, off] = this.at(addr);
        return st?.readInput(off) ?? 0;
      },
      getHoldingRegister: (addr: number) => {
        const [st, off] = this.at(addr);
        return st?.readHolding(off) ?? 0;
      },
      setCoil: (addr: number, value: boolean) => {
        const [st, off] = this.at(addr);
        st?.writeCoil(off, value);
      },
      setRegister: (addr: number, value: number) => {
        const [st, off] = this.at(addr);
        st?.writeHolding(off, value);
      },
    };
    const server = new ModbusRTU.ServerTCP(vector, { host: this.o.host, port, unitID: 255 });
    this.server = server;
    // biome-ignore lint/suspicious/noExplicitAny: modbus-serial keeps its net.Server in a private field.
    const net = (server as any)._server as Server;
    // Runs before modbus-serial's own handler: a refused client's socket is destroyed before it is read.
    net.prependListener('connection', (sock: Socket) => {
      if (!isAllowed(this.allowed, sock.remoteAddress)) {
        this.link.refusedConnections++;
        this.o.logger.warn({ remote: sock.remoteAddress }, 'Modbus connection from an address not allowed');
        sock.destroy();
        return;
      }
      this.link.clients++;
      sock.once('close', () => this.link.clients--);
    });
    server.on('socketError', () => {});
    server.on('error', (err: unknown) =>
      this.o.logger.warn({ err: (err as Error)?.message ?? String(err) }, 'Modbus request error'),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('initialized', () => resolve());
      server.once('serverError', (e: Error) => {
        this.server = null;
        reject(e);
      });
    });
    this.port = port;
    this.link.listening = true;
    this.o.logger.info({ host: this.o.host, port: this.port }, 'Modbus TCP server listening');
  }

  linkState(): ModbusLinkState {
    return { ...this.link };
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    this.link.listening = false;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

function pickFreePort(host: string): Promise<number> {
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
