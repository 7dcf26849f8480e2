import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HUMANS, OPERATORS, Roles } from '../auth/roles.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import { jsonSchema, parse, uuidParam } from '../common/validation.js';
import { CreateRollout, RolloutAction, RolloutQuery, RolloutsService } from './rollouts.service.js';

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
  @ApiBody({ schema: jsonSchema(CreateRollout) })
  create(@Body() body: unknown, @Req() req: AppRequest) {
    return this.rollouts.create(contextOf(req), parse(CreateRollout, body, 'body'));
  }

  @Get()
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'Rollouts, newest first (filter: status)' })
  list(@Query() q: unknown) {
    return this.rollouts.list(parse(RolloutQuery, q, 'query'));
  }

  @Get(':id')
  @Roles(...HUMANS)
  @ApiOperation({
    summary: 'A rollout with per-device state, candidate-vs-baseline metrics and its next step',
  })
  get(@Param('id') id: string) {
    return this.rollouts.get(parse(uuidParam, id, 'id'));
  }

  @Post(':id/promote')
  @Roles(...OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Move to the next stage (force: true to promote before every device is active)' })
  @ApiBody({ schema: jsonSchema(RolloutAction) })
  promote(@Param('id') id: string, @Body() body: unknown, @Req() req: AppRequest) {
    const b = parse(RolloutAction, body ?? {}, 'body');
    return this.rollouts.promote(contextOf(req), parse(uuidParam, id, 'id'), b.force);
  }

  @Post(':id/pause')
  @Roles(...OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Pause: no promotion and no automatic rollback until resumed' })
  pause(@Param('id') id: string, @Req() req: AppRequest) {
    return this.rollouts.pause(contextOf(req), parse(uuidParam, id, 'id'));
  }

  @Post(':id/resume')
  @Roles(...OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume a paused rollout' })
  resume(@Param('id') id: string, @Req() req: AppRequest) {
    return this.rollouts.resume(contextOf(req), parse(uuidParam, id, 'id'));
  }

  @Post(':id/abort')
  @Roles(...OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop; devices not yet active go back to their previous model' })
  @ApiBody({ schema: jsonSchema(RolloutAction) })
  abort(@Param('id') id: string, @Body() body: unknown, @Req() req: AppRequest) {
    const b = parse(RolloutAction, body ?? {}, 'body');
    return this.rollouts.abort(contextOf(req), parse(uuidParam, id, 'id'), b.reason);
  }

  @Post(':id/rollback')
  @Roles(...OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Every device the rollout changed goes back to its previous model' })
  @ApiBody({ schema: jsonSchema(RolloutAction) })
  rollback(@Param('id') id: string, @Body() body: unknown, @Req() req: AppRequest) {
    const b = parse(RolloutAction, body ?? {}, 'body');
    return this.rollouts.rollback(contextOf(req), parse(uuidParam, id, 'id'), b.reason);
  }
}
