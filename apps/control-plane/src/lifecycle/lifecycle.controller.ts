import { Controller, Get, Inject, Param, Post, Req, Res, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { HUMANS, OPERATORS, Roles } from '../auth/roles.js';
import { BodyOf, QueryOf, Returns, ReturnsFile, UuidPipe, ZodPipe } from '../common/dto.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import { DatasetImportService } from './dataset-import.service.js';
import { DatasetsService } from './datasets.service.js';
import { EvaluationsService } from './evaluations.service.js';
import { LabelsService } from './labels.service.js';
import {
  CreateEvaluationDto,
  CreateLabelDto,
  DatasetDto,
  EvaluationDto,
  FreezeDatasetDto,
  ImportDatasetQueryDto,
  LabelDto,
  ReviewItemDto,
  ReviewQueueQueryDto,
  ShadowEvaluationDto,
} from './lifecycle.dto.js';
import { ReviewQueueService } from './review-queue.service.js';
import { ShadowEvidenceService } from './shadow-evidence.service.js';

interface HeaderReply {
  header(name: string, value: string): unknown;
}

@ApiTags('lifecycle')
@ApiBearerAuth()
@Controller('api/v1')
export class LifecycleController {
  constructor(
    @Inject(LabelsService) private readonly labels: LabelsService,
    @Inject(ReviewQueueService) private readonly queue: ReviewQueueService,
    @Inject(DatasetsService) private readonly datasets: DatasetsService,
    @Inject(EvaluationsService) private readonly evaluations: EvaluationsService,
    @Inject(DatasetImportService) private readonly imports: DatasetImportService,
    @Inject(ShadowEvidenceService) private readonly shadow: ShadowEvidenceService,
  ) {}

  @Post('model-versions/:id/evaluations')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: "Record a model version's scores on a dataset's validation split" })
  @Returns(EvaluationDto, 201)
  evaluate(
    @Param('id', UuidPipe) id: string,
    @BodyOf(CreateEvaluationDto) body: CreateEvaluationDto,
    @Req() req: AppRequest,
  ) {
    return this.evaluations.create(contextOf(req), id, body);
  }

  @Post('rollouts/:id/shadow-evaluation')
  @Roles(...OPERATORS)
  @ApiOperation({
    summary:
      "Summarise a shadow rollout's live parts (candidate vs active: agreement, false alarms on labelled-OK, missed labelled-NOK) and record them as evaluations of both",
  })
  @Returns(ShadowEvaluationDto, 201)
  shadowEvaluation(@Param('id', UuidPipe) id: string, @Req() req: AppRequest) {
    return this.shadow.measureNow(contextOf(req), id);
  }

  @Get('model-versions/:id/evaluations')
  @Roles(...HUMANS)
  @ApiOperation({ summary: "A model version's evaluations, newest first" })
  @Returns([EvaluationDto])
  evaluationsOf(@Param('id', UuidPipe) id: string) {
    return this.evaluations.list(id);
  }

  @Post('results/:id/labels')
  @Roles(...HUMANS)
  @ApiOperation({
    summary:
      'Label a result: confirmed_defect or false_alarm (NOK results), missed_defect or confirmed_ok (OK results); a later label is a correction (new version)',
  })
  @Returns(LabelDto, 201)
  label(
    @Param('id', UuidPipe) id: string,
    @BodyOf(CreateLabelDto) body: CreateLabelDto,
    @Req() req: AppRequest,
  ) {
    return this.labels.create(contextOf(req), id, body);
  }

  @Get('results/:id/labels')
  @Roles(...HUMANS)
  @ApiOperation({ summary: "A result's labels, newest version first (the first is current)" })
  @Returns([LabelDto])
  history(@Param('id', UuidPipe) id: string) {
    return this.labels.history(id);
  }

  @Get('results/:id/labels/:version/mask')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'The defect mask painted with a label (PNG, white = defect)' })
  @ReturnsFile(['image/png'], 'the mask PNG')
  async mask(
    @Param('id', UuidPipe) id: string,
    @Param('version', new ZodPipe(z.coerce.number().int().min(1))) v: number,
    @Res({ passthrough: true }) res: HeaderReply,
  ) {
    const blob = await this.labels.mask(id, v);
    res.header('content-type', 'image/png');
    return new StreamableFile(blob.stream);
  }

  @Get('review-queue')
  @Roles(...HUMANS)
  @ApiOperation({
    summary:
      'Unlabelled results of a line, most useful to label first: shadow disagreement, then closest to the threshold',
  })
  @Returns([ReviewItemDto])
  reviewQueue(@QueryOf(ReviewQueueQueryDto) q: ReviewQueueQueryDto) {
    return this.queue.list(q);
  }

  @Post('lines/:lineId/datasets')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: "Freeze a dataset version from a line's stored images and labels" })
  @Returns(DatasetDto, 201)
  freeze(
    @Param('lineId', UuidPipe) lineId: string,
    @BodyOf(FreezeDatasetDto) body: FreezeDatasetDto,
    @Req() req: AppRequest,
  ) {
    return this.datasets.freeze(contextOf(req), lineId, body);
  }

  @Post('lines/:lineId/datasets/import')
  @Roles(...OPERATORS)
  @ApiConsumes('application/x-tar')
  @ApiOperation({
    summary:
      'Import a dataset version from a tar in MVTec AD layout (<category>/train/good, test/<good|defect>, ground_truth/<defect>/<name>_mask.png)',
    description:
      '201 with the new frozen version; 415 for another content type; 413 over the size limit; 422 naming the path for a wrong layout, a corrupt image or a mask without an image.',
  })
  @Returns(DatasetDto, 201)
  importDataset(
    @Param('lineId', UuidPipe) lineId: string,
    @QueryOf(ImportDatasetQueryDto) q: ImportDatasetQueryDto,
    @Req() req: AppRequest,
  ) {
    return this.imports.importTar(contextOf(req), lineId, q, req.headers['content-type'], req);
  }

  @Get('lines/:lineId/datasets')
  @Roles(...HUMANS)
  @ApiOperation({ summary: "A line's dataset versions" })
  @Returns([DatasetDto])
  listDatasets(@Param('lineId', UuidPipe) lineId: string) {
    return this.datasets.list(lineId);
  }

  @Get('datasets/:id')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'One dataset version with its counts' })
  @Returns(DatasetDto)
  dataset(@Param('id', UuidPipe) id: string) {
    return this.datasets.get(id);
  }

  @Get('datasets/:id/export.tar')
  @Roles(...OPERATORS)
  @ApiOperation({
    summary: 'The dataset in MVTec AD layout (train/good, test/good, test/defect, ground_truth/defect)',
  })
  @ReturnsFile(['application/x-tar'], 'the dataset .tar')
  async export(@Param('id', UuidPipe) id: string, @Res({ passthrough: true }) res: HeaderReply) {
    const { name, stream } = await this.datasets.exportMvtec(id);
    res.header('content-type', 'application/x-tar');
    res.header('content-disposition', `attachment; filename="${name}"`);
    return new StreamableFile(stream);
  }
}
