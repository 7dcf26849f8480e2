/**
 * Response shapes of the control plane's API, as the dashboard reads them: names for the schemas generated from
 * its OpenAPI document (generated/api-types.ts, `npm run openapi`), so a change to the API that the dashboard
 * does not follow fails the dashboard's type check.
 */
import type { components } from './generated/api-types.js';

type Schemas = components['schemas'];

export type LoginResponse = Schemas['LoginReplyDto_Output'];
export type Role = LoginResponse['role'];
export type Me = Schemas['PrincipalDto_Output'];

export type ResultView = Schemas['ResultDto_Output'];
export type Verdict = NonNullable<ResultView['verdict']>;
/** A keyset-paginated list (results, audit): the next page starts after `nextCursor`. */
export type Page<T> = { items: T[]; nextCursor: Schemas['ResultPageDto_Output']['nextCursor'] };

export type Aggregates = Schemas['AggregatesDto_Output'];
export type AggregatePoint = Aggregates['series'][number];

export type Line = Schemas['LineDto_Output'];
export type ModelVersion = Schemas['ModelVersionDto_Output'];
export type Device = Schemas['DeviceDto_Output'];

export type Rollout = Schemas['RolloutDto_Output'];
export type RolloutStatus = Rollout['status'];
export type Stage = Rollout['stages'][number];
export type RolloutDetail = Schemas['RolloutDetailDto_Output'];
export type GroupStats = NonNullable<RolloutDetail['metrics']>['candidate'];

export type ThresholdSet = Schemas['ThresholdSetDto_Output'];
export type AuditEntry = Schemas['AuditPageDto_Output']['items'][number];

export type ResultLabel = Schemas['LabelDto_Output'];
export type LabelKind = ResultLabel['label'];
export type ReviewItem = Schemas['ReviewItemDto_Output'];

export type TrainingJob = Schemas['TrainingJobDto_Output'];
