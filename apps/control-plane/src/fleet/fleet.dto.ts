import { DesiredState, EnrolRequest, EnrolResponse, Heartbeat, ResultBatch } from '@diad/protocol';
import { z } from 'zod';
import { zodDto } from '../common/dto.js';
import { isoTime } from '../common/schemas.js';
import {
  CreateEnrolmentToken,
  CreateLine,
  CreateSite,
  CreateStation,
  DeviceQuery,
  UpdateDevice,
} from './fleet.service.js';

export class CreateSiteDto extends zodDto(CreateSite) {}
export class CreateLineDto extends zodDto(CreateLine) {}
export class CreateStationDto extends zodDto(CreateStation) {}
export class CreateEnrolmentTokenDto extends zodDto(CreateEnrolmentToken) {}
export class UpdateDeviceDto extends zodDto(UpdateDevice) {}
export class DeviceQueryDto extends zodDto(DeviceQuery) {}
export class EnrolRequestDto extends zodDto(EnrolRequest) {}
export class HeartbeatDto extends zodDto(Heartbeat) {}
/** Documents the batch; the route checks only the envelope, each result alone (one bad result is refused by itself). */
export class ResultBatchDto extends zodDto(ResultBatch) {}
export class ResultEnvelopeDto extends zodDto(z.object({ results: z.array(z.unknown()).min(1).max(5000) })) {}

export const Site = z.object({ id: z.string(), code: z.string(), name: z.string(), createdAt: isoTime });
export const Line = z.object({
  id: z.string(),
  siteId: z.string(),
  code: z.string(),
  name: z.string(),
  createdAt: isoTime,
});
export const Station = z.object({
  id: z.string(),
  lineId: z.string(),
  code: z.string(),
  name: z.string(),
  createdAt: isoTime,
});

/** A device as stored: identity, last heartbeat, the model it runs and the one it should run. */
export const DeviceSummary = z.object({
  id: z.string(),
  name: z.string(),
  stationId: z.string(),
  hostname: z.string(),
  agentVersion: z.string(),
  providers: z.array(z.string()),
  disabled: z.boolean(),
  enrolledAt: isoTime,
  lastSeenAt: isoTime.nullable(),
  health: z.string().nullable(),
  provider: z.string().nullable(),
  accelerators: Heartbeat.shape.accelerators.unwrap().nullable(),
  plcLinks: Heartbeat.shape.plc.unwrap().nullable(),
  /** Results the control plane refused for good, set aside on the device (null from agents that predate it). */
  setAside: Heartbeat.shape.setAside.unwrap().nullable(),
  queueDepth: z.number().int(),
  outboxDepth: z.number().int(),
  activeModel: z
    .object({ name: z.string(), version: z.string().nullable(), sha256: z.string().nullable() })
    .nullable(),
  desiredModelVersionId: z.string().nullable(),
  shadowModelVersionId: z.string().nullable(),
  desiredRolloutId: z.string().nullable(),
  desiredRevision: z.number().int(),
});

/** A device with where it stands and whether it is online. */
export const Device = DeviceSummary.extend({
  site: z.string(),
  line: z.string(),
  station: z.string(),
  siteId: z.string(),
  lineId: z.string(),
  online: z.boolean(),
  /** disabled, offline, or the health of its last heartbeat. */
  status: z.string(),
});

export class SiteDto extends zodDto(Site) {}
export class LineDto extends zodDto(Line) {}
export class StationDto extends zodDto(Station) {}
export class DeviceDto extends zodDto(Device) {}
export class DeviceSummaryDto extends zodDto(DeviceSummary) {}
export class EnrolmentTokenDto extends zodDto(
  z.object({ id: z.string(), token: z.string(), stationId: z.string(), expiresAt: isoTime }),
) {}
export class RevokedEnrolmentTokenDto extends zodDto(
  z.object({ id: z.string(), stationId: z.string(), revoked: z.literal(true), expiresAt: isoTime }),
) {}
export class EnrolResponseDto extends zodDto(EnrolResponse) {}
export class DesiredStateDto extends zodDto(DesiredState) {}
export class HeartbeatReplyDto extends zodDto(z.object({ revision: z.number().int() })) {}
export class ResultsReplyDto extends zodDto(
  z.object({
    accepted: z.number().int(),
    duplicates: z.number().int(),
    /** Results refused one by one (the others were taken): index in the batch, id, status, reason. */
    refused: z
      .array(
        z.object({
          index: z.number().int(),
          resultId: z.string().nullable(),
          status: z.number().int(),
          message: z.string(),
        }),
      )
      .optional(),
  }),
) {}
export class ArtifactStoredDto extends zodDto(
  z.object({
    resultId: z.string(),
    kind: z.enum(['image', 'heatmap']),
    bytes: z.number().int(),
    contentType: z.string(),
  }),
) {}
