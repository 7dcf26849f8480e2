import { EnrolRequest, type EnrolResponse, type Heartbeat, type PlcLink, uuidv7 } from '@diad/protocol';
import {
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import { AuthService } from '../auth/auth.service.js';
import { randomSecret, sha256Hex } from '../auth/secrets.js';
import type { Logger } from '../common/logger.js';
import { Metrics } from '../common/metrics.js';
import type { RequestContext } from '../common/request-context.js';
import { CLOCK, type Clock, CONFIG, LOGGER } from '../common/tokens.js';
import type { ControlPlaneConfig } from '../config.js';
import { Database } from '../db/database.js';
import type { Device, Prisma } from '../generated/prisma/client.js';
import { BrokerIdentityService } from './broker-identities/broker-identity.service.js';
import { DeviceDirectory } from './device-directory.js';
import { enrolmentCredential, enrolRequestHash, replayEnrolment } from './enrolment.js';

const code = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected letters, digits, "_", "." or "-"');
export const CreateSite = z.object({ code, name: z.string().min(1).max(200) }).strict();
export const CreateLine = z
  .object({ siteId: z.string().uuid(), code, name: z.string().min(1).max(200) })
  .strict();
export const CreateStation = z
  .object({ lineId: z.string().uuid(), code, name: z.string().min(1).max(200) })
  .strict();
export const CreateEnrolmentToken = z
  .object({
    stationId: z.string().uuid(),
    deviceName: z.string().min(1).max(200).optional(),
    ttlSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 86400)
      .default(86400),
  })
  .strict();
export const UpdateDevice = z
  .object({ name: z.string().min(1).max(200).optional(), disabled: z.boolean().optional() })
  .strict();
export const DeviceQuery = z.object({
  siteId: z.string().uuid().optional(),
  lineId: z.string().uuid().optional(),
  stationId: z.string().uuid().optional(),
  online: z.enum(['true', 'false']).optional(),
});

type Tx = Prisma.TransactionClient;

/** Sites → lines → stations → devices; enrolment; device status. */
@Injectable()
export class FleetService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(DeviceDirectory) private readonly directory: DeviceDirectory,
    @Inject(AuthService) private readonly auth: AuthService,
    @Inject(BrokerIdentityService) private readonly brokerIds: BrokerIdentityService,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  createSite(ctx: RequestContext, input: z.infer<typeof CreateSite>) {
    return this.db.prisma.$transaction(async (tx) => {
      const row = await tx.site.create({ data: input });
      await this.audit.record(tx, ctx, {
        action: 'site.create',
        entityType: 'site',
        entityId: row.id,
        after: row,
      });
      return row;
    });
  }

  listSites() {
    return this.db.prisma.site.findMany({ orderBy: { code: 'asc' } });
  }

  createLine(ctx: RequestContext, input: z.infer<typeof CreateLine>) {
    return this.db.prisma.$transaction(async (tx) => {
      if (!(await tx.site.findUnique({ where: { id: input.siteId } }))) {
        throw new NotFoundException(`site ${input.siteId} not found`);
      }
      const row = await tx.line.create({ data: input });
      await this.audit.record(tx, ctx, {
        action: 'line.create',
        entityType: 'line',
        entityId: row.id,
        after: row,
      });
      return row;
    });
  }

  listLines(siteId?: string) {
    return this.db.prisma.line.findMany({ where: { siteId }, orderBy: { code: 'asc' } });
  }

  createStation(ctx: RequestContext, input: z.infer<typeof CreateStation>) {
    return this.db.prisma.$transaction(async (tx) => {
      if (!(await tx.line.findUnique({ where: { id: input.lineId } }))) {
        throw new NotFoundException(`line ${input.lineId} not found`);
      }
      const row = await tx.station.create({ data: input });
      await this.audit.record(tx, ctx, {
        action: 'station.create',
        entityType: 'station',
        entityId: row.id,
        after: row,
      });
      return row;
    });
  }

  listStations(lineId?: string) {
    return this.db.prisma.station.findMany({ where: { lineId }, orderBy: { code: 'asc' } });
  }

  async listDevices(q: z.infer<typeof DeviceQuery>) {
    const rows = await this.db.prisma.device.findMany({
      where: {
        stationId: q.stationId,
        station:
          q.lineId || q.siteId
            ? { lineId: q.lineId, line: q.siteId ? { siteId: q.siteId } : undefined }
            : undefined,
      },
      include: { station: { include: { line: { include: { site: true } } } } },
      orderBy: { name: 'asc' },
    });
    const out = rows.map((d) => this.present(d));
    return q.online ? out.filter((d) => String(d.online) === q.online) : out;
  }

  async getDevice(id: string) {
    const d = await this.db.prisma.device.findUnique({
      where: { id },
      include: { station: { include: { line: { include: { site: true } } } } },
    });
    if (!d) throw new NotFoundException(`device ${id} not found`);
    return this.present(d);
  }

  async updateDevice(ctx: RequestContext, id: string, input: z.infer<typeof UpdateDevice>) {
    const out = await this.db.prisma.$transaction(async (tx) => {
      const before = await tx.device.findUnique({ where: { id } });
      if (!before) throw new NotFoundException(`device ${id} not found`);
      const after = await tx.device.update({ where: { id }, data: input });
      // The broker login follows the device (inside the transaction: a broker failure leaves the device as it was).
      if (after.disabled && !before.disabled) await this.brokerIds.revoke(tx, id);
      if (!after.disabled && before.disabled) await this.brokerIds.provision(tx, id);
      await this.audit.record(tx, ctx, {
        action: input.disabled === true ? 'device.disable' : 'device.update',
        entityType: 'device',
        entityId: id,
        before: deviceSummary(before),
        after: deviceSummary(after),
      });
      return deviceSummary(after);
    }, this.brokerTx());
    this.directory.invalidate();
    // A disabled device must lose access now, not when its cached credential expires.
    this.auth.invalidate();
    return out;
  }

  /** A one-time enrolment token for one station; the token is returned once and stored hashed. */
  async createEnrolmentToken(ctx: RequestContext, input: z.infer<typeof CreateEnrolmentToken>) {
    const token = `diad_e_${randomSecret()}`;
    const expiresAt = new Date(this.clock.now().getTime() + input.ttlSeconds * 1000);
    return this.db.prisma.$transaction(async (tx) => {
      if (!(await tx.station.findUnique({ where: { id: input.stationId } }))) {
        throw new NotFoundException(`station ${input.stationId} not found`);
      }
      const row = await tx.enrolmentToken.create({
        data: {
          tokenHash: sha256Hex(token),
          stationId: input.stationId,
          deviceName: input.deviceName ?? null,
          expiresAt,
          createdBy: ctx.principal.name,
        },
      });
      await this.audit.record(tx, ctx, {
        action: 'enrolment-token.create',
        entityType: 'station',
        entityId: input.stationId,
        after: { tokenId: row.id, expiresAt, deviceName: row.deviceName },
      });
      return { id: row.id, token, stationId: input.stationId, expiresAt };
    });
  }

  /**
   * Revokes an unused enrolment token: it expires now (the enrolment check already refuses expired tokens, so no
   * second flag is needed), and the revocation is audited. A used token is answered 409: revoke its device instead.
   */
  async revokeEnrolmentToken(ctx: RequestContext, id: string) {
    const now = this.clock.now();
    return this.db.prisma.$transaction(async (tx) => {
      const row = await tx.enrolmentToken.findUnique({ where: { id } });
      if (!row) throw new NotFoundException(`enrolment token ${id} not found`);
      if (row.usedAt) {
        throw new ConflictException(
          `enrolment token ${id} was used by device ${row.deviceId}; disable the device instead`,
        );
      }
      const expiresAt = new Date(Math.min(row.expiresAt.getTime(), now.getTime()));
      // Conditional: a racing enrolment either claimed the token first (count 0 here) or finds it expired.
      const done = await tx.enrolmentToken.updateMany({ where: { id, usedAt: null }, data: { expiresAt } });
      if (done.count !== 1) throw new ConflictException(`enrolment token ${id} was used meanwhile`);
      await this.audit.record(tx, ctx, {
        action: 'enrolment-token.revoke',
        entityType: 'station',
        entityId: row.stationId,
        before: { tokenId: id, expiresAt: row.expiresAt },
        after: { tokenId: id, expiresAt },
      });
      return { id, stationId: row.stationId, revoked: true, expiresAt };
    });
  }

  /**
   * Trades a one-time token for a device id and credential; the token cannot be used twice, except by a retry of
   * the same request within the retry window, which gets the same device and credential (see enrolment.ts).
   */
  async enrol(input: EnrolRequest, ip: string | null): Promise<EnrolResponse> {
    const now = this.clock.now();
    const hash = sha256Hex(input.token);
    const deviceId = uuidv7(now.getTime());
    const requestHash = enrolRequestHash(input);
    const credentialNonce = randomSecret(16);
    const { credential, hash: credentialHash } = enrolmentCredential(input.token, deviceId, credentialNonce);
    const res = await this.db.prisma.$transaction(async (tx) => {
      // The conditional update is the one-time check: of two racing enrolments only one sees count 1 (the other
      // waits for its row lock and then finds the token used: a replay when it is the same request).
      const claimed = await tx.enrolmentToken.updateMany({
        where: { tokenHash: hash, usedAt: null, expiresAt: { gt: now } },
        data: { usedAt: now, deviceId, requestHash, credentialNonce },
      });
      if (claimed.count !== 1) return this.replay(tx, input, hash, requestHash, now, ip);
      const token = await tx.enrolmentToken.findUniqueOrThrow({
        where: { tokenHash: hash },
        include: { station: { include: { line: { include: { site: true } } } } },
      });
      const device = await tx.device.create({
        data: {
          id: deviceId,
          stationId: token.stationId,
          name: token.deviceName ?? input.hostname,
          hostname: input.hostname,
          agentVersion: input.agentVersion,
          providers: input.providers,
          credentialHash,
          publicKey: input.publicKey ?? null,
        },
      });
      // Before the token's use commits: a broker that is down fails the enrolment as a whole (token still unused).
      const broker = await this.brokerIds.provision(tx, deviceId);
      await this.audit.record(
        tx,
        {
          principal: { kind: 'device', id: deviceId, name: device.name, role: 'device', deviceId },
          requestId: null,
          ip,
        },
        { action: 'device.enrol', entityType: 'device', entityId: deviceId, after: deviceSummary(device) },
      );
      return {
        deviceId,
        credential,
        site: token.station.line.site.code,
        line: token.station.line.code,
        station: token.station.code,
        ...(broker ? { broker } : {}),
        replayed: false,
      };
    }, this.brokerTx());
    this.metrics.enrolments.inc({ outcome: res.replayed ? 'replayed' : 'enrolled' });
    if (!res.replayed) this.directory.invalidate();
    const { replayed: _, ...out } = res;
    return out;
  }

  /** A used token: the same device and credential for a retry of the request that used it, else 401. */
  private async replay(
    tx: Tx,
    input: EnrolRequest,
    tokenHash: string,
    requestHash: string,
    now: Date,
    ip: string | null,
  ) {
    const used = await tx.enrolmentToken.findUnique({
      where: { tokenHash },
      include: { station: { include: { line: { include: { site: true } } } } },
    });
    const device = used?.deviceId ? await tx.device.findUnique({ where: { id: used.deviceId } }) : null;
    const r = replayEnrolment({
      token: input.token,
      requestHash,
      used,
      device,
      now,
      windowSeconds: this.config.enrolRetryWindowSeconds,
    });
    if ('refused' in r || !used || !device) {
      this.metrics.enrolments.inc({ outcome: 'refused' });
      this.log.warn({ ip, why: 'refused' in r ? r.refused : 'unknown' }, 'enrolment refused');
      throw new UnauthorizedException('enrolment token is unknown, used or expired');
    }
    await this.audit.record(
      tx,
      {
        principal: { kind: 'device', id: device.id, name: device.name, role: 'device', deviceId: device.id },
        requestId: null,
        ip,
      },
      { action: 'device.enrol-retry', entityType: 'device', entityId: device.id },
    );
    // The broker login is derived, not stored: provisioning again is harmless and hands back the same one.
    const broker = await this.brokerIds.provision(tx, device.id);
    return {
      deviceId: device.id,
      credential: r.credential,
      site: used.station.line.site.code,
      line: used.station.line.code,
      station: used.station.code,
      ...(broker ? { broker } : {}),
      replayed: true,
    };
  }

  /** Transaction options for changes that also talk to the broker. */
  private brokerTx() {
    return { timeout: this.brokerIds.transactionTimeoutMs };
  }

  private present(
    d: Device & {
      station: {
        id: string;
        code: string;
        line: { id: string; code: string; site: { id: string; code: string } };
      };
    },
  ) {
    const online =
      d.lastSeenAt !== null &&
      this.clock.now().getTime() - d.lastSeenAt.getTime() <= this.config.offlineAfterSeconds * 1000;
    return {
      ...deviceSummary(d),
      site: d.station.line.site.code,
      line: d.station.line.code,
      station: d.station.code,
      siteId: d.station.line.site.id,
      lineId: d.station.line.id,
      online,
      status: d.disabled ? 'disabled' : online ? (d.health ?? 'ok') : 'offline',
    };
  }
}

/** As the agent reported it in its heartbeat (`accelerators`). */
export type DeviceAccelerators = NonNullable<Heartbeat['accelerators']>;

export function deviceSummary(d: Device) {
  return {
    id: d.id,
    name: d.name,
    stationId: d.stationId,
    hostname: d.hostname,
    agentVersion: d.agentVersion,
    providers: d.providers,
    disabled: d.disabled,
    enrolledAt: d.enrolledAt,
    lastSeenAt: d.lastSeenAt,
    health: d.health,
    provider: d.provider,
    accelerators: (d.accelerators as DeviceAccelerators | null) ?? null,
    plcLinks: (d.plcLinks as PlcLink[] | null) ?? null,
    setAside: (d.setAside as Heartbeat['setAside'] | null) ?? null,
    queueDepth: d.queueDepth,
    outboxDepth: d.outboxDepth,
    activeModel: d.activeModelName
      ? { name: d.activeModelName, version: d.activeModelVersion, sha256: d.activeModelSha256 }
      : null,
    desiredModelVersionId: d.desiredModelVersionId,
    shadowModelVersionId: d.shadowModelVersionId,
    desiredRolloutId: d.desiredRolloutId,
    desiredRevision: d.desiredRevision,
  };
}
