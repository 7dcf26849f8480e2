import { Body, Controller, Get, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { HUMANS, Roles } from '../auth/roles.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import { jsonSchema, parse, uuidParam } from '../common/validation.js';
import { CreateThresholds, ThresholdsService } from './thresholds.service.js';

@ApiTags('thresholds')
@ApiBearerAuth()
@Controller('api/v1/lines/:lineId/thresholds')
export class ThresholdsController {
  constructor(@Inject(ThresholdsService) private readonly thresholds: ThresholdsService) {}

  @Post()
  @Roles(...HUMANS)
  @ApiOperation({
    summary: 'Add a threshold set for a line (a new version; station and category overrides; effective time)',
  })
  @ApiBody({ schema: jsonSchema(CreateThresholds) })
  create(@Param('lineId') lineId: string, @Body() body: unknown, @Req() req: AppRequest) {
    return this.thresholds.create(
      contextOf(req),
      parse(uuidParam, lineId, 'lineId'),
      parse(CreateThresholds, body, 'body'),
    );
  }

  @Get()
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'Every threshold set of a line, newest version first' })
  list(@Param('lineId') lineId: string) {
    return this.thresholds.list(parse(uuidParam, lineId, 'lineId'));
  }

  @Get('effective')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'The set in effect at a time (default now): { effective: set | null }' })
  async effective(@Param('lineId') lineId: string, @Query('at') at: unknown) {
    const when = parse(z.string().datetime({ offset: true }).optional(), at, 'at');
    const set = await this.thresholds.effective(
      parse(uuidParam, lineId, 'lineId'),
      when ? new Date(when) : undefined,
    );
    return { effective: set ?? null };
  }
}
