import { z } from 'zod';
import { zodDto } from '../common/dto.js';
import { isoTime } from '../common/schemas.js';
import { CreateThresholds } from './thresholds.service.js';

export class CreateThresholdsDto extends zodDto(CreateThresholds) {}

export const ThresholdSet = z.object({
  id: z.number().int(),
  lineId: z.string(),
  version: z.number().int(),
  effectiveFrom: isoTime,
  image: z.number().nullable(),
  pixel: z.number().nullable(),
  stationOverrides: z.record(
    z.string(),
    z.object({
      image: z.number().optional(),
      pixel: z.number().optional(),
      categories: z.record(z.string(), z.number()).optional(),
    }),
  ),
  categoryOverrides: z.record(z.string(), z.number()),
  note: z.string().nullable(),
  createdBy: z.string(),
  createdAt: isoTime,
});

export class ThresholdSetDto extends zodDto(ThresholdSet) {}
export class EffectiveThresholdsDto extends zodDto(z.object({ effective: ThresholdSet.nullable() })) {}
