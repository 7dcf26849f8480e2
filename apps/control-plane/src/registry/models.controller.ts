import { Body, Controller, Get, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { HUMANS, OPERATORS, Roles } from '../auth/roles.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import { jsonSchema, parse } from '../common/validation.js';
import type { ModelVersion } from '../generated/prisma/client.js';
import { CreateSigningKey, ModelListQuery, ModelStatusChange, ModelsService } from './models.service.js';

const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected a model name');
const version = z
  .string()
  .regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/, 'expected a semver');

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
  upload(@Req() req: AppRequest) {
    return this.models.upload(contextOf(req), req.headers, req);
  }

  @Get('models')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'List model versions (filters: name, status)' })
  list(@Query() q: unknown) {
    return this.models.list(parse(ModelListQuery, q, 'query'));
  }

  @Get('models/:name/versions/:version')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'One model version with its manifest and calibration' })
  get(@Param('name') n: string, @Param('version') v: string) {
    return this.models.get(parse(name, n, 'name'), parse(version, v, 'version'));
  }

  @Post('models/:name/versions/:version/status')
  @Roles(...OPERATORS)
  @ApiOperation({
    summary: 'Deprecate, retire or re-activate a version (retire refused while devices still use it)',
  })
  @ApiBody({ schema: jsonSchema(ModelStatusChange) })
  status(
    @Param('name') n: string,
    @Param('version') v: string,
    @Body() body: unknown,
    @Req() req: AppRequest,
  ) {
    return this.models.setStatus(
      contextOf(req),
      parse(name, n, 'name'),
      parse(version, v, 'version'),
      parse(ModelStatusChange, body, 'body'),
    );
  }

  @Get('models/:name/versions/:version/bundle')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Download the bundle .tar' })
  async download(@Param('name') n: string, @Param('version') v: string, @Res() res: Response) {
    const row = await this.models.find(parse(name, n, 'name'), parse(version, v, 'version'));
    await sendBundle(this.models, row, res);
  }

  @Get('signing-keys')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'Trusted ed25519 keys for bundle signatures' })
  keys() {
    return this.models.listSigningKeys();
  }

  @Post('signing-keys')
  @Roles('admin')
  @ApiOperation({ summary: 'Trust an ed25519 public key (PEM or base64 of the 32 raw bytes)' })
  @ApiBody({ schema: jsonSchema(CreateSigningKey) })
  addKey(@Body() body: unknown, @Req() req: AppRequest) {
    return this.models.createSigningKey(contextOf(req), parse(CreateSigningKey, body, 'body'));
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
