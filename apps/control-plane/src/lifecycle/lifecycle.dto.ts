import { z } from 'zod';
import { zodDto } from '../common/dto.js';
import { isoTime, jsonObject } from '../common/schemas.js';
import { FreezeDataset } from './datasets.service.js';
import { CreateEvaluation } from './evaluations.service.js';
import { CreateLabel, LABELS } from './labels.service.js';
import { ReviewQueueQuery } from './review-queue.service.js';

export class CreateEvaluationDto extends zodDto(CreateEvaluation) {}
export class CreateLabelDto extends zodDto(CreateLabel) {}
export class ReviewQueueQueryDto extends zodDto(ReviewQueueQuery) {}
export class FreezeDatasetDto extends zodDto(FreezeDataset) {}

export class EvaluationDto extends zodDto(
  z.object({
    id: z.string(),
    modelVersionId: z.string(),
    datasetId: z.string(),
    report: CreateEvaluation.shape.report,
    createdBy: z.string(),
    createdAt: isoTime,
  }),
) {}

export class LabelDto extends zodDto(
  z.object({
    id: z.string(),
    resultId: z.string(),
    version: z.number().int(),
    label: z.enum(LABELS),
    maskRef: z.string().nullable(),
    note: z.string().nullable(),
    createdBy: z.string(),
    createdAt: isoTime,
  }),
) {}

export class ReviewItemDto extends zodDto(
  z.object({
    resultId: z.string(),
    station: z.string(),
    partId: z.string(),
    inspectedAt: isoTime,
    verdict: z.enum(['OK', 'NOK']),
    score: z.number().nullable(),
    normalizedScore: z.number().nullable(),
    shadowVerdict: z.enum(['OK', 'NOK']).nullable(),
    /** Why it is in the queue: the shadow model disagrees, or the score is near the threshold. */
    reason: z.enum(['shadow-disagrees', 'borderline']),
  }),
) {}

export class DatasetDto extends zodDto(
  z.object({
    id: z.string(),
    lineId: z.string(),
    name: z.string(),
    version: z.number().int(),
    frozenAt: isoTime,
    /** The request that froze it. */
    selection: jsonObject,
    counts: z.object({
      train: z.number().int(),
      validationNormal: z.number().int(),
      validationDefect: z.number().int(),
    }),
    createdBy: z.string(),
  }),
) {}
