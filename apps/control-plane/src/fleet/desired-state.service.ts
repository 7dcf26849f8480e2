import { agentApi, type BundleRef, type DesiredState } from '@diad/protocol';
import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { Database } from '../db/database.js';
import type { ModelVersion } from '../generated/prisma/client.js';
import { resolveThresholds } from '../thresholds/resolve.js';
import { asThresholdSetLike, ThresholdsService } from '../thresholds/thresholds.service.js';

export const bundleUrl = (modelVersionId: string) => `${agentApi.bundles}/${modelVersionId}`;

/** What a device should run: its model (and shadow model) combined with its line's effective thresholds. */
@Injectable()
export class DesiredStateService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(ThresholdsService) private readonly thresholds: ThresholdsService,
  ) {}

  async forDevice(deviceId: string): Promise<DesiredState> {
    const d = await this.db.prisma.device.findUnique({
      where: { id: deviceId },
      include: { desiredModel: true, shadowModel: true, station: true },
    });
    if (!d) throw new NotFoundException(`device ${deviceId} not found`);
    const set = await this.thresholds.effective(d.station.lineId);
    const resolved = resolveThresholds(
      asThresholdSetLike(set),
      d.station.code,
      d.desiredModel
        ? { imageThreshold: d.desiredModel.imageThreshold, pixelThreshold: d.desiredModel.pixelThreshold }
        : null,
    );
    return {
      schema: 'diad.desired/v1',
      deviceId: d.id,
      // Both parts only grow: the device's own assignment counter and the global id of the effective threshold set.
      revision: d.desiredRevision + (set?.id ?? 0),
      model: d.desiredModel ? bundleRef(d.desiredModel) : null,
      shadowModel: d.shadowModel ? bundleRef(d.shadowModel) : null,
      rolloutId: d.desiredRolloutId,
      thresholds: resolved?.thresholds ?? null,
      categoryThresholds: resolved?.categoryThresholds ?? {},
    };
  }
}

function bundleRef(m: ModelVersion): BundleRef {
  return {
    name: m.name,
    version: m.version,
    sha256: m.sha256,
    url: bundleUrl(m.id),
    bytes: Number(m.bytes),
    signature: m.signature,
  };
}
