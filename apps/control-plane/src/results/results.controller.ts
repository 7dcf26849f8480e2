import {
  Controller,
  Get,
  Inject,
  type MessageEvent,
  Param,
  Res,
  ServiceUnavailableException,
  Sse,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { defer, filter, finalize, map, type Observable } from 'rxjs';
import { z } from 'zod';
import { HUMANS, Roles } from '../auth/roles.js';
import { QueryOf, Returns, ReturnsFile, UuidPipe, ZodPipe } from '../common/dto.js';
import { Metrics } from '../common/metrics.js';
import { CONFIG } from '../common/tokens.js';
import type { ControlPlaneConfig } from '../config.js';
import { ARTIFACT_KINDS, type ArtifactKind, ArtifactsService } from './artifacts.service.js';
import { ResultEvents } from './result-events.js';
import {
  AggregateQueryDto,
  AggregatesDto,
  ExportQueryDto,
  ResultDto,
  ResultPageDto,
  ResultPageQueryDto,
  StreamQueryDto,
} from './results.dto.js';
import { CSV_COLUMNS, csvLine, ResultsService } from './results.service.js';

const FILTER_DOC = [
  'site',
  'line',
  'station',
  'deviceId',
  'partId',
  'category',
  'from',
  'to',
  'verdict',
  'state',
  'modelName',
  'modelVersion',
  'minScore',
  'maxScore',
];

@ApiTags('results')
@ApiBearerAuth()
@Controller('api/v1/results')
export class ResultsController {
  constructor(
    @Inject(ResultsService) private readonly results: ResultsService,
    @Inject(ArtifactsService) private readonly artifacts: ArtifactsService,
    @Inject(ResultEvents) private readonly events: ResultEvents,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  /** Live streams open on this replica (the cap is per process). */
  private openStreams = 0;

  @Get()
  @Roles(...HUMANS)
  @ApiOperation({
    summary: 'Defect history, newest first, keyset-paginated ({ items, nextCursor })',
    description: `Filters: ${FILTER_DOC.join(', ')}; limit (1-1000), cursor.`,
  })
  @Returns(ResultPageDto)
  list(@QueryOf(ResultPageQueryDto) q: ResultPageQueryDto) {
    return this.results.page(q);
  }

  @Get('aggregates')
  @Roles(...HUMANS)
  @ApiOperation({
    summary: 'NOK rate per hour, day or shift, per model version',
    description:
      'bucket=hour|day|shift|none, groupBy=model|none, plus the list filters; from defaults to 24 h ago.',
  })
  @Returns(AggregatesDto)
  aggregates(@QueryOf(AggregateQueryDto) q: AggregateQueryDto) {
    return this.results.aggregate(q);
  }

  @Get('export.csv')
  @Roles(...HUMANS)
  @ApiProduces('text/csv')
  @ApiOperation({ summary: 'CSV of the filtered history (limit up to 1,000,000 rows), streamed' })
  @ReturnsFile(['text/csv'], 'one row per result, newest first')
  async export(@QueryOf(ExportQueryDto) query: ExportQueryDto, @Res() res: Response) {
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', 'attachment; filename="diad-results.csv"');
    res.write(`${CSV_COLUMNS.join(',')}\r\n`);
    for await (const page of this.results.exportRows(query)) {
      if (!res.write(page.map(csvLine).join(''))) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }

  @Sse('stream')
  @Roles(...HUMANS)
  @ApiOperation({
    summary: 'Server-Sent Events: every new result as it is stored (filters: site, line, station, verdict)',
  })
  @ReturnsFile(
    ['text/event-stream'],
    'events of type "result", each data a result as GET /results/{id} returns it',
  )
  stream(@QueryOf(StreamQueryDto) f: StreamQueryDto): Observable<MessageEvent> {
    if (this.openStreams >= this.config.maxLiveStreams) {
      throw new ServiceUnavailableException(
        `results stream: ${this.config.maxLiveStreams} live streams are open, the limit (MAX_LIVE_STREAMS); try again later`,
      );
    }
    return defer(() => {
      this.openStreams++;
      this.metrics.sseClients.inc();
      return this.events.stream.pipe(
        filter(
          (r) =>
            (!f.site || r.site === f.site) &&
            (!f.line || r.line === f.line) &&
            (!f.station || r.station === f.station) &&
            (!f.verdict || r.verdict === f.verdict),
        ),
        map((r) => ({ data: r, id: r.resultId, type: 'result' })),
        finalize(() => {
          this.openStreams--;
          this.metrics.sseClients.dec();
        }),
      );
    });
  }

  @Get(':id')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'One result' })
  @Returns(ResultDto)
  get(@Param('id', UuidPipe) id: string) {
    return this.results.get(id);
  }

  @Get(':id/:kind')
  @Roles(...HUMANS)
  @ApiOperation({ summary: "A result's stored image or heatmap (kind: image | heatmap)" })
  @ReturnsFile(['image/png', 'image/jpeg', 'image/webp'], 'the stored image')
  async artifact(
    @Param('id', UuidPipe) id: string,
    @Param('kind', new ZodPipe(z.enum(ARTIFACT_KINDS))) kind: ArtifactKind,
    @Res() res: Response,
  ) {
    const a = await this.artifacts.get(id, kind);
    res.setHeader('Content-Type', a.contentType);
    res.setHeader('Content-Length', String(a.bytes));
    res.setHeader('Cache-Control', 'private, max-age=86400, immutable');
    a.stream.on('error', () => res.destroy());
    a.stream.pipe(res);
  }
}
