import { type Heartbeat, InspectionResult } from '@diad/protocol';
import { ForbiddenException, HttpException, Inject, Injectable, NotFoundException } from '@nestjs/common';
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
        // Results the agent set aside (poison results this control plane refused), for the fleet view.
        ...(hb.setAside ? { setAside: hb.setAside } : {}),
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

  /**
   * A device may post only its own results, for the station it is enrolled at. Each result is judged alone: the
   * good ones are stored and a bad one (schema, range, another device's, another station's) is refused by itself,
   * listed in `refused` with its own status, so one poison result cannot hold back a batch. When nothing is
   * accepted the answer is the first refusal's status (4xx).
   */
  async results(deviceId: string, raw: unknown[]) {
    const me = await this.directory.lookup(deviceId);
    if (!me) throw new NotFoundException(`device ${deviceId} not found`);
    const good: InspectionResult[] = [];
    const refused: Array<{ index: number; resultId: string | null; status: number; message: string }> = [];
    const judge = (item: unknown, i: number): InspectionResult | [number, string, string] => {
      const p = InspectionResult.safeParse(item);
      if (!p.success) {
        const issue = p.error.issues[0];
        return [400, 'invalid', `body.results.${[i, ...issue.path].join('.')}: ${issue.message}`];
      }
      const r = p.data;
      const range = outOfRange(r);
      if (range) return [400, 'out-of-range', `body.results.${i}.${range}`];
      if (r.deviceId !== deviceId)
        return [403, 'other-device', `body.results.${i}.deviceId: a device may only post its own results`];
      if (r.site !== me.site || r.line !== me.line || r.station !== me.station) {
        return [
          403,
          'address-mismatch',
          `body.results.${i}: site/line/station ${r.site}/${r.line}/${r.station} is not this device's (${me.site}/${me.line}/${me.station})`,
        ];
      }
      return r;
    };
    for (const [i, item] of raw.entries()) {
      const v = judge(item, i);
      if (!Array.isArray(v)) {
        good.push(v);
        continue;
      }
      const [status, reason, message] = v;
      const id = (item as { resultId?: unknown } | null)?.resultId;
      this.metrics.resultsRejected.inc({ transport: 'http', reason });
      refused.push({ index: i, resultId: typeof id === 'string' ? id.slice(0, 64) : null, status, message });
    }
    if (good.length === 0) {
      throw new HttpException(
        { message: refused[0].message, accepted: 0, duplicates: 0, refused },
        refused[0].status,
      );
    }
    const out = await this.ingest.ingest(good, 'http');
    return refused.length ? { ...out, refused } : out;
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
