import { Controller, Get, HttpCode, Inject, Param, Post, Put, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { Public, Roles } from '../auth/roles.js';
import { BodyOf, Returns, ReturnsFile, UuidPipe, ZodPipe } from '../common/dto.js';
import type { AppRequest } from '../common/request-context.js';
import { sendBundle } from '../registry/models.controller.js';
import { ModelsService } from '../registry/models.service.js';
import { ARTIFACT_KINDS, type ArtifactKind, ArtifactsService } from '../results/artifacts.service.js';
import { AgentService } from './agent.service.js';
import { DesiredStateService } from './desired-state.service.js';
import {
  ArtifactStoredDto,
  DesiredStateDto,
  EnrolRequestDto,
  EnrolResponseDto,
  HeartbeatDto,
  HeartbeatReplyDto,
  ResultBatchDto,
  ResultEnvelopeDto,
  ResultsReplyDto,
} from './fleet.dto.js';
import { FleetService } from './fleet.service.js';

@ApiTags('agent')
@ApiBearerAuth()
@Controller('api/v1/agent')
export class AgentController {
  constructor(
    @Inject(FleetService) private readonly fleet: FleetService,
    @Inject(AgentService) private readonly agent: AgentService,
    @Inject(DesiredStateService) private readonly desired: DesiredStateService,
    @Inject(ArtifactsService) private readonly artifacts: ArtifactsService,
    @Inject(ModelsService) private readonly models: ModelsService,
  ) {}

  @Post('enrol')
  @Public()
  @ApiOperation({ summary: 'Trade a one-time enrolment token for a device id and credential (shown once)' })
  @Returns(EnrolResponseDto, 201)
  enrol(@BodyOf(EnrolRequestDto) body: EnrolRequestDto, @Req() req: AppRequest) {
    return this.fleet.enrol(body, req.ip ?? null);
  }

  @Post('heartbeat')
  @Roles('device')
  @HttpCode(200)
  @ApiOperation({ summary: 'Report health and model activation; returns the desired-state revision' })
  @Returns(HeartbeatReplyDto)
  heartbeat(@BodyOf(HeartbeatDto) body: HeartbeatDto, @Req() req: AppRequest) {
    return this.agent.heartbeat(req.principal!.deviceId!, body);
  }

  @Get('desired-state')
  @Roles('device')
  @ApiOperation({ summary: "This device's desired state (model, shadow model, thresholds)" })
  @Returns(DesiredStateDto)
  desiredState(@Req() req: AppRequest) {
    return this.desired.forDevice(req.principal!.deviceId!);
  }

  @Post('results')
  @Roles('device')
  @HttpCode(200)
  @ApiOperation({ summary: 'Post a batch of results (idempotent on resultId): { accepted, duplicates }' })
  @ApiBody({ type: ResultBatchDto })
  @Returns(ResultsReplyDto)
  results(@BodyOf(ResultEnvelopeDto) body: ResultEnvelopeDto, @Req() req: AppRequest) {
    // The envelope is checked here; each result alone in AgentService.results (one bad result is refused by itself).
    return this.agent.results(req.principal!.deviceId!, body.results);
  }

  @Put('results/:resultId/:kind')
  @Roles('device')
  @ApiConsumes('image/png', 'image/jpeg', 'image/webp')
  @ApiOperation({ summary: "Upload a result's image or heatmap (raw body; kind: image | heatmap)" })
  @Returns(ArtifactStoredDto)
  artifact(
    @Param('resultId', UuidPipe) resultId: string,
    @Param('kind', new ZodPipe(z.enum(ARTIFACT_KINDS))) kind: ArtifactKind,
    @Req() req: AppRequest,
  ) {
    return this.artifacts.put(req.principal!.deviceId!, resultId, kind, req.headers['content-type'], req);
  }

  @Get('bundles/:id')
  @Roles('device', 'admin', 'engineer')
  @ApiOperation({ summary: 'Stream a bundle .tar named by the desired state (a device only its own)' })
  @ReturnsFile(['application/x-tar'], 'the bundle .tar')
  async bundle(@Param('id', UuidPipe) id: string, @Req() req: AppRequest, @Res() res: Response) {
    const row = await this.agent.bundleFor(req.principal!, id);
    await sendBundle(this.models, row, res);
  }
}
