import { z } from 'zod';
import { zodDto } from '../common/dto.js';
import { isoTime, jsonObject } from '../common/schemas.js';
import { ImportDatasetQuery } from './dataset-import.service.js';
import { FreezeDataset } from './datasets.service.js';
import { CreateEvaluation } from './evaluations.service.js';
import { CreateLabel, LABELS } from './labels.service.js';
import { ReviewQueueQuery } from './review-queue.service.js';

export class CreateEvaluationDto extends zodDto(CreateEvaluation) {}
export class CreateLabelDto extends zodDto(CreateLabel) {}
export class ReviewQueueQueryDto extends zodDto(ReviewQueueQuery) {}
export class FreezeDatasetDto extends zodDto(FreezeDataset) {}
export class ImportDatasetQueryDto extends zodDto(ImportDatasetQuery) {}

const ShadowSide = z.object({
  /** Labelled-OK parts called NOK, as a share of them (0 when none is labelled OK). */
  falseAlarmRate: z.number(),
  falseAlarms: z.number().int(),
  /** Labelled-NOK parts called OK. */
  missedDefects: z.number().int(),
});
const ShadowShared = z.object({
  parts: z.number().int(),
  agreementRate: z.number(),
  /** Labelled-OK and labelled-NOK parts among them. */
  normals: z.number().int(),
  defects: z.number().int(),
});
/** A model's verdicts on a shadow rollout's live parts, against the model it ran beside ("name@version"). */
const ShadowReport = ShadowShared.extend(ShadowSide.shape).extend({
  source: z.literal('shadow'),
  against: z.string(),
});

export class EvaluationDto extends zodDto(
  z.object({
    id: z.string(),
    modelVersionId: z.string(),
    /** Exactly one of the two: measured on a dataset's validation split, or on a shadow rollout's live parts. */
    datasetId: z.string().nullable(),
    shadowRolloutId: z.string().nullable(),
    report: z.union([CreateEvaluation.shape.report, ShadowReport]),
    createdBy: z.string(),
    createdAt: isoTime,
  }),
) {}

export class ShadowEvaluationDto extends zodDto(
  z.object({
    rolloutId: z.string(),
    /** The candidate ("name@version"). */
    candidate: z.string(),
    /** One per active model the candidate ran beside. */
    comparisons: z.array(
      ShadowShared.extend({ activeModel: z.string(), candidate: ShadowSide, active: ShadowSide }),
    ),
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
      /** Imported datasets: defect images with a ground-truth mask. */
      masks: z.number().int().optional(),
    }),
    createdBy: z.string(),
  }),
) {}
