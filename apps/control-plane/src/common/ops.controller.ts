import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/roles.js';
import { Database } from '../db/database.js';
import { Metrics } from './metrics.js';

@ApiTags('ops')
@Controller()
export class OpsController {
  constructor(
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(Database) private readonly db: Database,
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
  async health() {
    await this.db.prisma.$queryRawUnsafe('SELECT 1');
    return { status: 'ok', database: this.db.kind };
  }
}
