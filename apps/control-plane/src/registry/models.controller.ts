import { Controller, Get, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { HUMANS, OPERATORS, Roles } from '../auth/roles.js';
import { BodyOf, QueryOf, Returns, ReturnsFile, ZodPipe } from '../common/dto.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import type { ModelVersion } from '../generated/prisma/client.js';
import {
  CreateSigningKeyDto,
  ModelListQueryDto,
  ModelStatusChangeDto,
  ModelVersionDto,
  SigningKeyDto,
} from './models.dto.js';
import { ModelsService } from './models.service.js';

const name = new ZodPipe(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected a model name'));
const version = new ZodPipe(
  z.string().regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/, 'expected a semver'),
);

@ApiTags('models')
@ApiBearerAuth()
@Controller('api/v1')
export class ModelsController {
  constructor(@Inject(ModelsService) private readonly models: ModelsService) {}

  @Post('models')
  @Roles(...OPERATORS)
  @ApiConsumes('multipart/form-data')
  @ApiOperation({
    summary:
      'Upload a bundle .tar (field "bundle"; optional "signature" = base64 ed25519 over the tar sha256 hex, "signedBy" = key name)',
    description:
      '201 with the new version; 409 when name+version exists; 413 over the size limit; 422 when the manifest or a file hash is wrong.',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['bundle'],
      properties: {
        signature: { type: 'string' },
        signedBy: { type: 'string' },
        bundle: { type: 'string', format: 'binary' },
      },
    },
  })
  @Returns(ModelVersionDto, 201)
  upload(@Req() req: AppRequest) {
    return this.models.upload(contextOf(req), req.headers, req);
  }

  @Get('models')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'List model versions (filters: name, status)' })
  @Returns([ModelVersionDto])
  list(@QueryOf(ModelListQueryDto) q: ModelListQueryDto) {
    return this.models.list(q);
  }

  @Get('models/:name/versions/:version')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'One model version with its manifest and calibration' })
  @Returns(ModelVersionDto)
  get(@Param('name', name) n: string, @Param('version', version) v: string) {
    return this.models.get(n, v);
  }

  @Post('models/:name/versions/:version/status')
  @Roles(...OPERATORS)
  @ApiOperation({
    summary: 'Deprecate, retire or re-activate a version (retire refused while devices still use it)',
  })
  @Returns(ModelVersionDto, 201)
  status(
    @Param('name', name) n: string,
    @Param('version', version) v: string,
    @BodyOf(ModelStatusChangeDto) body: ModelStatusChangeDto,
    @Req() req: AppRequest,
  ) {
    return this.models.setStatus(contextOf(req), n, v, body);
  }

  @Get('models/:name/versions/:version/bundle')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Download the bundle .tar' })
  @ReturnsFile(['application/x-tar'], 'the bundle .tar')
  async download(@Param('name', name) n: string, @Param('version', version) v: string, @Res() res: Response) {
    const row = await this.models.find(n, v);
    await sendBundle(this.models, row, res);
  }

  @Get('signing-keys')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'Trusted ed25519 keys for bundle signatures' })
  @Returns([SigningKeyDto])
  keys() {
    return this.models.listSigningKeys();
  }

  @Post('signing-keys')
  @Roles('admin')
  @ApiOperation({ summary: 'Trust an ed25519 public key (PEM or base64 of the 32 raw bytes)' })
  @Returns(SigningKeyDto, 201)
  addKey(@BodyOf(CreateSigningKeyDto) body: CreateSigningKeyDto, @Req() req: AppRequest) {
    return this.models.createSigningKey(contextOf(req), body);
  }
}

export async function sendBundle(models: ModelsService, row: ModelVersion, res: Response): Promise<void> {
  const blob = await models.open(row);
  res.setHeader('Content-Type', 'application/x-tar');
  res.setHeader('Content-Length', String(blob.bytes));
  res.setHeader('ETag', `"${row.sha256}"`);
  res.setHeader('X-Bundle-Sha256', row.sha256);
  res.setHeader('Content-Disposition', `attachment; filename="${row.name}-${row.version}.tar"`);
  blob.stream.on('error', () => res.destroy());
  blob.stream.pipe(res);
}
