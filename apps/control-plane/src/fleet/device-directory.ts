import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '../common/tokens.js';
import { Database } from '../db/database.js';

export interface DeviceAddress {
  site: string;
  line: string;
  station: string;
  disabled: boolean;
  /** The ed25519 public key registered at enrolment (base64 of 32 bytes), when any. */
  publicKey?: string | null;
}

/**
 * Device id → station address, cached for ingestion: checking that a result's device exists and belongs to the
 * station it claims must not cost a query per message.
 */
@Injectable()
export class DeviceDirectory {
  private cache = new Map<string, DeviceAddress>();
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  invalidate(): void {
    this.loadedAt = 0;
  }

  async lookup(deviceId: string): Promise<DeviceAddress | undefined> {
    const now = this.clock.now().getTime();
    if (now - this.loadedAt > 30_000 || (!this.cache.has(deviceId) && now - this.loadedAt > 1000))
      await this.reload();
    return this.cache.get(deviceId);
  }

  private reload(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const rows = await this.db.prisma.device.findMany({
          select: {
            id: true,
            disabled: true,
            publicKey: true,
            station: {
              select: { code: true, line: { select: { code: true, site: { select: { code: true } } } } },
            },
          },
        });
        const next = new Map<string, DeviceAddress>();
        for (const r of rows) {
          next.set(r.id, {
            site: r.station.line.site.code,
            line: r.station.line.code,
            station: r.station.code,
            disabled: r.disabled,
            publicKey: r.publicKey,
          });
        }
        this.cache = next;
        this.loadedAt = this.clock.now().getTime();
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }
}
