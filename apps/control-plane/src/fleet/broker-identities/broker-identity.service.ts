import { readFileSync } from 'node:fs';
import {
  Inject,
  Injectable,
  type OnModuleDestroy,
  type OnModuleInit,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { Metrics } from '../../common/metrics.js';
import { CONFIG, LOGGER } from '../../common/tokens.js';
import type { ControlPlaneConfig } from '../../config.js';
import { Database } from '../../db/database.js';
import { type BrokerIdentity, BrokerIdentityError, brokerIdentity } from './identity.js';
import { MosquittoDynsecProvisioner } from './mosquitto-dynsec.js';
import { NatsConfigProvisioner, type StaticNatsUser } from './nats-config.js';
import type { BrokerIdentityProvisioner } from './provisioner.js';

/** A Prisma client or the transaction client of the caller (so the device row it just wrote is visible). */
type Db = Pick<Database['prisma'], 'device'>;

/** How often the NATS users file is rewritten from the database (heals a rolled-back change, other replicas' writes). */
const NATS_RESYNC_MS = 60_000;

/**
 * The control plane's side of per-device broker identities (BROKER_IDENTITIES): builds the configured provisioner
 * and turns device events into broker changes. FleetService calls it inside the transaction that enrols, disables
 * or re-enables the device, so a broker failure rolls the whole change back (the enrolment token stays unused, the
 * device stays enabled) and the caller retries; every provisioner call is an idempotent upsert.
 */
@Injectable()
export class BrokerIdentityService implements OnModuleInit, OnModuleDestroy {
  readonly provisioner: BrokerIdentityProvisioner | null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
    @Inject(Database) private readonly db: Database,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.provisioner = this.build();
  }

  /** Transactions that talk to the broker get room for its timeout (a step or two, plus the database's own work). */
  get transactionTimeoutMs(): number {
    return this.provisioner ? 3 * this.config.brokerTimeoutMs + 5000 : 5000;
  }

  /** Gives the device its broker login; returns it for the enrolment answer, or undefined when identities are off. */
  async provision(tx: Db, deviceId: string): Promise<{ username: string; password: string } | undefined> {
    if (!this.provisioner) return undefined;
    const identity = await this.identityOf(tx, deviceId);
    await this.apply('provision', identity, (p) =>
      p instanceof NatsConfigProvisioner
        ? p.provisionWith(identity, () => this.enabledDevices(tx))
        : p.provision(identity),
    );
    return { username: identity.username, password: identity.password };
  }

  /** Takes the device's broker login away (disable); a connected device is disconnected by the broker. */
  async revoke(tx: Db, deviceId: string): Promise<void> {
    if (!this.provisioner) return;
    const identity = await this.identityOf(tx, deviceId);
    await this.apply('revoke', identity, (p) =>
      p instanceof NatsConfigProvisioner
        ? p.revokeWith(identity, () => this.enabledDevices(tx))
        : p.revoke(identity),
    );
  }

  async onModuleInit(): Promise<void> {
    const p = this.provisioner;
    if (!(p instanceof NatsConfigProvisioner)) return;
    const resync = () =>
      p
        .resync()
        .catch((e) => this.log.error({ err: (e as Error).message }, 'nats users file: resync failed'));
    await resync();
    this.timer = setInterval(resync, NATS_RESYNC_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.provisioner?.close();
  }

  private async apply(
    op: 'provision' | 'revoke',
    identity: BrokerIdentity,
    f: (p: BrokerIdentityProvisioner) => Promise<void>,
  ): Promise<void> {
    try {
      await f(this.provisioner!);
      this.metrics.brokerIdentityOps.inc({ op, outcome: 'ok' });
      this.log.info({ op, username: identity.username, broker: this.provisioner!.kind }, 'broker identity');
    } catch (e) {
      this.metrics.brokerIdentityOps.inc({ op, outcome: 'failed' });
      if (!(e instanceof BrokerIdentityError)) throw e;
      this.log.error({ op, username: identity.username, err: e.message }, 'broker identity change failed');
      // 503: the broker, not the request, is at fault; nothing was changed, so the same request can be repeated.
      throw new ServiceUnavailableException(
        `broker identity ${identity.username} could not be ${op === 'provision' ? 'provisioned' : 'revoked'}, nothing was changed; retry once the broker is back: ${e.message}`,
      );
    }
  }

  private async identityOf(db: Db, deviceId: string): Promise<BrokerIdentity> {
    const d = await db.device.findUniqueOrThrow({
      where: { id: deviceId },
      select: {
        station: {
          select: { code: true, line: { select: { code: true, site: { select: { code: true } } } } },
        },
      },
    });
    return brokerIdentity(this.config.brokerIdentitySecret!, deviceId, {
      site: d.station.line.site.code,
      line: d.station.line.code,
      station: d.station.code,
    });
  }

  private async enabledDevices(db: Db): Promise<BrokerIdentity[]> {
    const rows = await db.device.findMany({
      where: { disabled: false },
      select: {
        id: true,
        station: {
          select: { code: true, line: { select: { code: true, site: { select: { code: true } } } } },
        },
      },
    });
    return rows.map((r) =>
      brokerIdentity(this.config.brokerIdentitySecret!, r.id, {
        site: r.station.line.site.code,
        line: r.station.line.code,
        station: r.station.code,
      }),
    );
  }

  private build(): BrokerIdentityProvisioner | null {
    const c = this.config;
    if (c.brokerIdentities === 'mosquitto-dynsec') {
      return new MosquittoDynsecProvisioner({
        url: (c.brokerAdminUrl ?? c.mqttUrl)!,
        username: c.brokerAdminUsername!,
        password: c.brokerAdminPassword!,
        timeoutMs: c.brokerTimeoutMs,
      });
    }
    if (c.brokerIdentities === 'nats-config') {
      // The control plane's own logins stay in the file without limits, or it would lock itself out.
      const statics: StaticNatsUser[] = [];
      if (c.natsUser && c.natsPassword) statics.push({ username: c.natsUser, password: c.natsPassword });
      if (c.mqttUsername && c.mqttPassword && c.mqttUsername !== c.natsUser)
        statics.push({ username: c.mqttUsername, password: c.mqttPassword });
      return new NatsConfigProvisioner({
        usersFile: c.brokerNatsUsersFile!,
        pidFiles: c.brokerNatsPidFiles!,
        url: c.natsUrl!.split(',')[0],
        staticUsers: statics,
        extraUsers: c.brokerNatsExtraUsersFile ? readFileSync(c.brokerNatsExtraUsersFile, 'utf8') : undefined,
        enabledDevices: () => this.enabledDevices(this.db.prisma),
        timeoutMs: c.brokerTimeoutMs,
      });
    }
    return null;
  }
}
