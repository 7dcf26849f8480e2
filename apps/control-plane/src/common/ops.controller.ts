import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { Public } from '../auth/roles.js';
import { Database } from '../db/database.js';
import { Ingestion } from '../results/ingestion/ingestion.service.js';
import { Returns, zodDto } from './dto.js';
import { Metrics } from './metrics.js';

class HealthDto extends zodDto(
  z.object({ status: z.literal('ok'), database: z.enum(['pglite', 'postgres']) }),
) {}
class ReadinessDto extends zodDto(
  z.object({
    status: z.enum(['ready', 'not-ready']),
    /** Why it is not ready (empty when ready). */
    reasons: z.array(z.string()),
    checks: z.object({
      /** "ok" or what is wrong. */
      database: z.string(),
      migrations: z.string(),
      ingestion: z.object({
        transports: z.array(
          z.object({
            name: z.string(),
            attached: z.boolean(),
            stalled: z.string().optional(),
            detail: z.string().optional(),
          }),
        ),
        /** Why ingestion counts as stalled, or null. */
        stalled: z.string().nullable(),
      }),
    }),
  }),
) {}

@ApiTags('ops')
@Controller()
export class OpsController {
  constructor(
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(Database) private readonly db: Database,
    @Inject(Ingestion) private readonly ingestion: Ingestion,
  ) {}

  @Get('metrics')
  @Public()
  @ApiExcludeEndpoint()
  async prometheus(@Res() res: Response) {
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }

  @Get('healthz')
  @Public()
  @ApiOperation({ summary: 'Liveness and database reachability' })
  @Returns(HealthDto)
  async health() {
    await this.db.prisma.$queryRawUnsafe('SELECT 1');
    return { status: 'ok', database: this.db.kind };
  }

  @Get('readyz')
  @Public()
  @ApiOperation({
    summary:
      'Readiness: database reachable, migrations applied, ingestion consumer attached and delivering, ingestion not stalled (503 with reasons otherwise)',
  })
  @ApiResponse({ status: 200, type: ReadinessDto.Output })
  @ApiResponse({ status: 503, type: ReadinessDto.Output })
  async ready(@Res() res: Response) {
    const reasons: string[] = [];
    let database: 'ok' | string = 'ok';
    let migrations: 'ok' | string = 'ok';
    try {
      await this.db.prisma.$queryRawUnsafe('SELECT 1');
      try {
        const pending = await this.db.pendingMigrations();
        if (pending.length) migrations = `pending: ${pending.join(', ')}`;
      } catch (e) {
        migrations = `unknown: ${(e as Error).message}`;
      }
    } catch (e) {
      database = `unreachable: ${(e as Error).message}`;
      migrations = 'unknown';
    }
    if (database !== 'ok') reasons.push(`database ${database}`);
    if (migrations !== 'ok') reasons.push(`migrations ${migrations}`);
    const ingestion = this.ingestion.readiness();
    reasons.push(...ingestion.reasons);
    res.status(reasons.length ? 503 : 200).json({
      status: reasons.length ? 'not-ready' : 'ready',
      reasons,
      checks: {
        database,
        migrations,
        ingestion: { transports: ingestion.transports, stalled: ingestion.stalled },
      },
    });
  }
}
