import { Controller, Get, Inject, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HUMANS, OPERATORS, Roles } from '../auth/roles.js';
import { BodyOf, QueryOf, Returns, UuidPipe } from '../common/dto.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import { CreateTrainingJobDto, TrainingJobDto, TrainingJobQueryDto } from './training.dto.js';
import { TrainingService } from './training.service.js';

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
  @Returns(TrainingJobDto, 201)
  create(@BodyOf(CreateTrainingJobDto) body: CreateTrainingJobDto, @Req() req: AppRequest) {
    return this.training.create(contextOf(req), body);
  }

  @Get()
  @Roles(...HUMANS)
  @ApiOperation({ summary: "A line's training jobs with their progress, newest first" })
  @Returns([TrainingJobDto])
  list(@QueryOf(TrainingJobQueryDto) q: TrainingJobQueryDto) {
    return this.training.list(q.lineId);
  }

  @Get(':id')
  @Roles(...HUMANS)
  @ApiOperation({
    summary: 'One training job: status, progress (stage, step, loss, ETA), the version it registered',
  })
  @Returns(TrainingJobDto)
  get(@Param('id', UuidPipe) id: string) {
    return this.training.get(id);
  }

  @Post(':id/cancel')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Cancel a queued or running job' })
  @Returns(TrainingJobDto, 201)
  cancel(@Param('id', UuidPipe) id: string, @Req() req: AppRequest) {
    return this.training.cancel(contextOf(req), id);
  }

  @Post(':id/resume')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Queue a failed or cancelled job again; it continues from its last checkpoint' })
  @Returns(TrainingJobDto, 201)
  resume(@Param('id', UuidPipe) id: string, @Req() req: AppRequest) {
    return this.training.resume(contextOf(req), id);
  }
}
