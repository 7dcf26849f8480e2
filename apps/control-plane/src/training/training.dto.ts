import { z } from 'zod';
import { zodDto } from '../common/dto.js';
import { isoTime } from '../common/schemas.js';
import { CreateTrainingJob, TrainingJobQuery } from './training.service.js';

export class CreateTrainingJobDto extends zodDto(CreateTrainingJob) {}
export class TrainingJobQueryDto extends zodDto(TrainingJobQuery) {}

export class TrainingJobDto extends zodDto(
  z.object({
    id: z.string(),
    lineId: z.string(),
    datasetId: z.string(),
    /** The request that queued it (defaults applied); rows queued by other means may carry only the first three. */
    config: z.object({
      modelName: z.string(),
      config: CreateTrainingJob.shape.config.unwrap(),
      maxMinutes: z.number(),
      datasetId: z.string().optional(),
      imageSize: z.number().int().optional(),
      seed: z.number().int().optional(),
    }),
    status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
    /** As the worker last reported it; fields by stage (train reports step, of, loss, ETA). */
    progress: z
      .object({
        stage: z.string().optional(),
        step: z.number().optional(),
        of: z.number().optional(),
        loss: z.number().optional(),
        etaMinutes: z.number().optional(),
      })
      .nullable(),
    attempts: z.number().int(),
    worker: z.string().nullable(),
    modelVersionId: z.string().nullable(),
    error: z.string().nullable(),
    queueJobId: z.string().nullable(),
    createdBy: z.string(),
    createdAt: isoTime,
    startedAt: isoTime.nullable(),
    finishedAt: isoTime.nullable(),
  }),
) {}
