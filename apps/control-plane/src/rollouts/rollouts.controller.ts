import { Controller, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HUMANS, OPERATORS, Roles } from '../auth/roles.js';
import { BodyOf, QueryOf, Returns, UuidPipe } from '../common/dto.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import {
  CreateRolloutDto,
  RolloutActionDto,
  RolloutDetailDto,
  RolloutDto,
  RolloutQueryDto,
} from './rollouts.dto.js';
import { RolloutsService } from './rollouts.service.js';

@ApiTags('rollouts')
@ApiBearerAuth()
@Controller('api/v1/rollouts')
export class RolloutsController {
  constructor(@Inject(RolloutsService) private readonly rollouts: RolloutsService) {}

  @Post()
  @Roles(...OPERATORS)
  @ApiOperation({
    summary: 'Start a rollout of a model version to lines, stations or devices, in stages',
    description:
      'Stages are cumulative ({percent} or {count}); policy.promotion manual|auto; automatic rollback on activation failures or NOK-rate / score drift against the previous model. mode "shadow" runs the candidate beside the active model.',
  })
  @Returns(RolloutDetailDto, 201)
  create(@BodyOf(CreateRolloutDto) body: CreateRolloutDto, @Req() req: AppRequest) {
    return this.rollouts.create(contextOf(req), body);
  }

  @Get()
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'Rollouts, newest first (filter: status)' })
  @Returns([RolloutDto])
  list(@QueryOf(RolloutQueryDto) q: RolloutQueryDto) {
    return this.rollouts.list(q);
  }

  @Get(':id')
  @Roles(...HUMANS)
  @ApiOperation({
    summary: 'A rollout with per-device state, candidate-vs-baseline metrics and its next step',
  })
  @Returns(RolloutDetailDto)
  get(@Param('id', UuidPipe) id: string) {
    return this.rollouts.get(id);
  }

  @Post(':id/promote')
  @Roles(...OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Move to the next stage (force: true to promote before every device is active)' })
  @Returns(RolloutDetailDto)
  promote(
    @Param('id', UuidPipe) id: string,
    @BodyOf(RolloutActionDto) b: RolloutActionDto,
    @Req() req: AppRequest,
  ) {
    return this.rollouts.promote(contextOf(req), id, b.force);
  }

  @Post(':id/pause')
  @Roles(...OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Pause: no promotion and no automatic rollback until resumed' })
  @Returns(RolloutDetailDto)
  pause(@Param('id', UuidPipe) id: string, @Req() req: AppRequest) {
    return this.rollouts.pause(contextOf(req), id);
  }

  @Post(':id/resume')
  @Roles(...OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume a paused rollout' })
  @Returns(RolloutDetailDto)
  resume(@Param('id', UuidPipe) id: string, @Req() req: AppRequest) {
    return this.rollouts.resume(contextOf(req), id);
  }

  @Post(':id/abort')
  @Roles(...OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop; devices not yet active go back to their previous model' })
  @Returns(RolloutDetailDto)
  abort(
    @Param('id', UuidPipe) id: string,
    @BodyOf(RolloutActionDto) b: RolloutActionDto,
    @Req() req: AppRequest,
  ) {
    return this.rollouts.abort(contextOf(req), id, b.reason);
  }

  @Post(':id/rollback')
  @Roles(...OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Every device the rollout changed goes back to its previous model' })
  @Returns(RolloutDetailDto)
  rollback(
    @Param('id', UuidPipe) id: string,
    @BodyOf(RolloutActionDto) b: RolloutActionDto,
    @Req() req: AppRequest,
  ) {
    return this.rollouts.rollback(contextOf(req), id, b.reason);
  }
}
