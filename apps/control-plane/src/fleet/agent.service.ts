import type { Heartbeat, InspectionResult } from '@diad/protocol';
import {
  BadRequestException,
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { Metrics } from '../common/metrics.js';
import type { Principal } from '../common/request-context.js';
import { CLOCK, type Clock } from '../common/tokens.js';
import { Database } from '../db/database.js';
import { IngestService } from '../results/ingest.service.js';
import { outOfRange } from '../results/result-row.js';
import { RolloutsService } from '../rollouts/rollouts.service.js';
import { DesiredStateService } from './desired-state.service.js';
import { DeviceDirectory } from './device-directory.js';

/** The agent side of the API: heartbeats, desired state, result batches, bundle access. */
@Injectable()
export class AgentService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(RolloutsService) private readonly rollouts: RolloutsService,
    @Inject(DesiredStateService) private readonly desired: DesiredStateService,
    @Inject(DeviceDirectory) private readonly directory: DeviceDirectory,
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async heartbeat(deviceId: string, hb: Heartbeat): Promise<{ revision: number }> {
    const device = await this.db.prisma.device.update({
      where: { id: deviceId },
      data: {
        // The server's clock decides online/offline; the device's may drift.
        lastSeenAt: this.clock.now(),
        health: hb.health,
        provider: hb.provider,
        // Agents that predate the provider check leave the last report as it was.
        ...(hb.accelerators ? { accelerators: hb.accelerators } : {}),
        // Likewise for agents that predate the PLC link report.
        ...(hb.plc ? { plcLinks: hb.plc } : {}),
        queueDepth: hb.queueDepth,
        outboxDepth: hb.outboxDepth,
        activeModelName: hb.activeModel?.name ?? null,
        activeModelVersion: hb.activeModel?.version ?? null,
        activeModelSha256: hb.activeModel?.sha256 ?? null,
      },
    });
    if (hb.modelReports.length)
      await this.rollouts.onReports(deviceId, hb.modelReports, device.desiredRolloutId);
    return { revision: (await this.desired.forDevice(deviceId)).revision };
  }

  /** A device may post only its own results, for the station it is enrolled at. */
  async results(deviceId: string, results: InspectionResult[]) {
    const me = await this.directory.lookup(deviceId);
    if (!me) throw new NotFoundException(`device ${deviceId} not found`);
    results.forEach((r, i) => {
      const range = outOfRange(r);
      if (range) throw new BadRequestException(`body.results.${i}.${range}`);
      if (r.deviceId !== deviceId) {
        this.metrics.resultsRejected.inc({ transport: 'http', reason: 'other-device' }, results.length);
        throw new ForbiddenException(`body.results.${i}.deviceId: a device may only post its own results`);
      }
      if (r.site !== me.site || r.line !== me.line || r.station !== me.station) {
        this.metrics.resultsRejected.inc({ transport: 'http', reason: 'address-mismatch' }, results.length);
        throw new ForbiddenException(
          `body.results.${i}: site/line/station ${r.site}/${r.line}/${r.station} is not this device's (${me.site}/${me.line}/${me.station})`,
        );
      }
    });
    return this.ingest.ingest(results, 'http');
  }

  /** A device reaches only the bundles its desired state names; operators reach any. */
  async bundleFor(principal: Principal, modelVersionId: string) {
    const row = await this.db.prisma.modelVersion.findUnique({ where: { id: modelVersionId } });
    if (!row) throw new NotFoundException(`model version ${modelVersionId} not found`);
    if (principal.role === 'device') {
      const d = await this.db.prisma.device.findUnique({ where: { id: principal.deviceId } });
      if (!d || (d.desiredModelVersionId !== row.id && d.shadowModelVersionId !== row.id)) {
        throw new ForbiddenException('this bundle is not in the desired state of this device');
      }
    }
    return row;
  }
}
