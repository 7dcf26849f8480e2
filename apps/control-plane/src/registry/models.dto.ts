import { BundleManifest } from '@diad/protocol';
import { z } from 'zod';
import { zodDto } from '../common/dto.js';
import { isoTime, jsonObject } from '../common/schemas.js';
import { CreateSigningKey, ModelListQuery, ModelStatusChange } from './models.service.js';

export class ModelStatusChangeDto extends zodDto(ModelStatusChange) {}
export class CreateSigningKeyDto extends zodDto(CreateSigningKey) {}
export class ModelListQueryDto extends zodDto(ModelListQuery) {}

const ModelVersion = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  sha256: z.string(),
  bytes: z.number().int(),
  status: z.enum(['active', 'deprecated', 'retired']),
  statusReason: z.string().nullable(),
  description: z.string().nullable(),
  calibration: BundleManifest.shape.calibration.nullable(),
  signature: z.string().nullable(),
  signedBy: z.string().nullable(),
  createdBy: z.string(),
  createdAt: isoTime,
  /** The bundle's manifest.json as uploaded (docs/bundle.md). */
  manifest: jsonObject,
});
export class ModelVersionDto extends zodDto(ModelVersion) {}

const SigningKey = z.object({
  id: z.string(),
  name: z.string(),
  publicKey: z.string(),
  createdAt: isoTime,
  revokedAt: isoTime.nullable(),
});
export class SigningKeyDto extends zodDto(SigningKey) {}
