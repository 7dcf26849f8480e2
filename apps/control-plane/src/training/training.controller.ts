import { Body, Controller, Get, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HUMANS, OPERATORS, Roles } from '../auth/roles.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import { jsonSchema, parse, uuidParam } from '../common/validation.js';
import { CreateTrainingJob, TrainingJobQuery, TrainingService } from './training.service.js';

@ApiTags('training')
@ApiBearerAuth()
@Controller('api/v1/training-jobs')
export class TrainingController {
  constructor(@Inject(TrainingService) private readonly training: TrainingService) {}

  @Post()
  @Roles(...OPERATORS)
  @ApiOperation({
    summary: 'Queue a training job on a frozen dataset (needs PostgreSQL and a trainer worker)',
  })
  @ApiBody({ schema: jsonSchema(CreateTrainingJob) })
  create(@Body() body: unknown, @Req() req: AppRequest) {
    return this.training.create(contextOf(req), parse(CreateTrainingJob, body, 'body'));
  }

  @Get()
  @Roles(...HUMANS)
  @ApiOperation({ summary: "A line's training jobs with their progress, newest first" })
  list(@Query() q: unknown) {
    return this.training.list(parse(TrainingJobQuery, q, 'query').lineId);
  }

  @Get(':id')
  @Roles(...HUMANS)
  @ApiOperation({
    summary: 'One training job: status, progress (stage, step, loss, ETA), the version it registered',
  })
  get(@Param('id') id: string) {
    return this.training.get(parse(uuidParam, id, 'id'));
  }

  @Post(':id/cancel')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Cancel a queued or running job' })
  cancel(@Param('id') id: string, @Req() req: AppRequest) {
    return this.training.cancel(contextOf(req), parse(uuidParam, id, 'id'));
  }

  @Post(':id/resume')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Queue a failed or cancelled job again; it continues from its last checkpoint' })
  resume(@Param('id') id: string, @Req() req: AppRequest) {
    return this.training.resume(contextOf(req), parse(uuidParam, id, 'id'));
  }
}
