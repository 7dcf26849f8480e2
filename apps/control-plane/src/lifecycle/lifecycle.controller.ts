import { Body, Controller, Get, Inject, Param, Post, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { HUMANS, OPERATORS, Roles } from '../auth/roles.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import { jsonSchema, parse, uuidParam } from '../common/validation.js';
import { DatasetImportService, ImportDatasetQuery } from './dataset-import.service.js';
import { DatasetsService, FreezeDataset } from './datasets.service.js';
import { CreateEvaluation, EvaluationsService } from './evaluations.service.js';
import { CreateLabel, LabelsService } from './labels.service.js';
import { ReviewQueueQuery, ReviewQueueService } from './review-queue.service.js';
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
  @ApiBody({ schema: jsonSchema(CreateEvaluation) })
  evaluate(@Param('id') id: string, @Body() body: unknown, @Req() req: AppRequest) {
    return this.evaluations.create(
      contextOf(req),
      parse(uuidParam, id, 'id'),
      parse(CreateEvaluation, body, 'body'),
    );
  }

  @Post('rollouts/:id/shadow-evaluation')
  @Roles(...OPERATORS)
  @ApiOperation({
    summary:
      "Summarise a shadow rollout's live parts (candidate vs active: agreement, false alarms on labelled-OK, missed labelled-NOK) and record them as evaluations of both",
  })
  shadowEvaluation(@Param('id') id: string, @Req() req: AppRequest) {
    return this.shadow.measureNow(contextOf(req), parse(uuidParam, id, 'id'));
  }

  @Get('model-versions/:id/evaluations')
  @Roles(...HUMANS)
  @ApiOperation({ summary: "A model version's evaluations, newest first" })
  evaluationsOf(@Param('id') id: string) {
    return this.evaluations.list(parse(uuidParam, id, 'id'));
  }

  @Post('results/:id/labels')
  @Roles(...HUMANS)
  @ApiOperation({
    summary:
      'Label a result: confirmed_defect or false_alarm (NOK results), missed_defect or confirmed_ok (OK results); a later label is a correction (new version)',
  })
  @ApiBody({ schema: jsonSchema(CreateLabel) })
  label(@Param('id') id: string, @Body() body: unknown, @Req() req: AppRequest) {
    return this.labels.create(contextOf(req), parse(uuidParam, id, 'id'), parse(CreateLabel, body, 'body'));
  }

  @Get('results/:id/labels')
  @Roles(...HUMANS)
  @ApiOperation({ summary: "A result's labels, newest version first (the first is current)" })
  history(@Param('id') id: string) {
    return this.labels.history(parse(uuidParam, id, 'id'));
  }

  @Get('results/:id/labels/:version/mask')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'The defect mask painted with a label (PNG, white = defect)' })
  async mask(
    @Param('id') id: string,
    @Param('version') version: string,
    @Res({ passthrough: true }) res: HeaderReply,
  ) {
    const v = parse(z.coerce.number().int().min(1), version, 'version');
    const blob = await this.labels.mask(parse(uuidParam, id, 'id'), v);
    res.header('content-type', 'image/png');
    return new StreamableFile(blob.stream);
  }

  @Get('review-queue')
  @Roles(...HUMANS)
  @ApiOperation({
    summary:
      'Unlabelled results of a line, most useful to label first: shadow disagreement, then closest to the threshold',
  })
  reviewQueue(@Query() q: unknown) {
    return this.queue.list(parse(ReviewQueueQuery, q, 'query'));
  }

  @Post('lines/:lineId/datasets')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: "Freeze a dataset version from a line's stored images and labels" })
  @ApiBody({ schema: jsonSchema(FreezeDataset) })
  freeze(@Param('lineId') lineId: string, @Body() body: unknown, @Req() req: AppRequest) {
    return this.datasets.freeze(
      contextOf(req),
      parse(uuidParam, lineId, 'lineId'),
      parse(FreezeDataset, body, 'body'),
    );
  }

  @Post('lines/:lineId/datasets/import')
  @Roles(...OPERATORS)
  @ApiConsumes('application/x-tar')
  @ApiQuery({ name: 'name', required: false, description: "dataset name (default: the archive's category)" })
  @ApiOperation({
    summary:
      'Import a dataset version from a tar in MVTec AD layout (<category>/train/good, test/<good|defect>, ground_truth/<defect>/<name>_mask.png)',
    description:
      '201 with the new frozen version; 415 for another content type; 413 over the size limit; 422 naming the path for a wrong layout, a corrupt image or a mask without an image.',
  })
  importDataset(@Param('lineId') lineId: string, @Query() q: unknown, @Req() req: AppRequest) {
    return this.imports.importTar(
      contextOf(req),
      parse(uuidParam, lineId, 'lineId'),
      parse(ImportDatasetQuery, q, 'query'),
      req.headers['content-type'],
      req,
    );
  }

  @Get('lines/:lineId/datasets')
  @Roles(...HUMANS)
  @ApiOperation({ summary: "A line's dataset versions" })
  listDatasets(@Param('lineId') lineId: string) {
    return this.datasets.list(parse(uuidParam, lineId, 'lineId'));
  }

  @Get('datasets/:id')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'One dataset version with its counts' })
  dataset(@Param('id') id: string) {
    return this.datasets.get(parse(uuidParam, id, 'id'));
  }

  @Get('datasets/:id/export.tar')
  @Roles(...OPERATORS)
  @ApiOperation({
    summary: 'The dataset in MVTec AD layout (train/good, test/good, test/defect, ground_truth/defect)',
  })
  async export(@Param('id') id: string, @Res({ passthrough: true }) res: HeaderReply) {
    const { name, stream } = await this.datasets.exportMvtec(parse(uuidParam, id, 'id'));
    res.header('content-type', 'application/x-tar');
    res.header('content-disposition', `attachment; filename="${name}"`);
    return new StreamableFile(stream);
  }
}
