import { Controller, Get, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { HUMANS, Roles } from '../auth/roles.js';
import { BodyOf, isoDate, Returns, UuidPipe, ZodPipe } from '../common/dto.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import { CreateThresholdsDto, EffectiveThresholdsDto, ThresholdSetDto } from './thresholds.dto.js';
import { ThresholdsService } from './thresholds.service.js';

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
  @Returns(ThresholdSetDto, 201)
  create(
    @Param('lineId', UuidPipe) lineId: string,
    @BodyOf(CreateThresholdsDto) body: CreateThresholdsDto,
    @Req() req: AppRequest,
  ) {
    return this.thresholds.create(contextOf(req), lineId, body);
  }

  @Get()
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'Every threshold set of a line, newest version first' })
  @Returns([ThresholdSetDto])
  list(@Param('lineId', UuidPipe) lineId: string) {
    return this.thresholds.list(lineId);
  }

  @Get('effective')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'The set in effect at a time (default now): { effective: set | null }' })
  @ApiQuery({ name: 'at', required: false, description: 'ISO 8601 time with offset; default now' })
  @Returns(EffectiveThresholdsDto)
  async effective(
    @Param('lineId', UuidPipe) lineId: string,
    @Query('at', new ZodPipe(isoDate.optional())) at: string | undefined,
  ) {
    const set = await this.thresholds.effective(lineId, at ? new Date(at) : undefined);
    return { effective: set ?? null };
  }
}
