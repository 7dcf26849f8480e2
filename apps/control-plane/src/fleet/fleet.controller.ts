import { Controller, Delete, Get, Inject, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { HUMANS, OPERATORS, Roles } from '../auth/roles.js';
import { BodyOf, QueryOf, Returns, UuidPipe, uuidParam, ZodPipe } from '../common/dto.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import { DesiredStateService } from './desired-state.service.js';
import {
  CreateEnrolmentTokenDto,
  CreateLineDto,
  CreateSiteDto,
  CreateStationDto,
  DesiredStateDto,
  DeviceDto,
  DeviceQueryDto,
  DeviceSummaryDto,
  EnrolmentTokenDto,
  LineDto,
  RevokedEnrolmentTokenDto,
  SiteDto,
  StationDto,
  UpdateDeviceDto,
} from './fleet.dto.js';
import { FleetService } from './fleet.service.js';

const optionalUuid = new ZodPipe(uuidParam.optional());

@ApiTags('fleet')
@ApiBearerAuth()
@Controller('api/v1')
export class FleetController {
  constructor(
    @Inject(FleetService) private readonly fleet: FleetService,
    @Inject(DesiredStateService) private readonly desired: DesiredStateService,
  ) {}

  @Post('sites')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Create a site' })
  @Returns(SiteDto, 201)
  createSite(@BodyOf(CreateSiteDto) body: CreateSiteDto, @Req() req: AppRequest) {
    return this.fleet.createSite(contextOf(req), body);
  }

  @Get('sites')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'List sites' })
  @Returns([SiteDto])
  sites() {
    return this.fleet.listSites();
  }

  @Post('lines')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Create a line in a site' })
  @Returns(LineDto, 201)
  createLine(@BodyOf(CreateLineDto) body: CreateLineDto, @Req() req: AppRequest) {
    return this.fleet.createLine(contextOf(req), body);
  }

  @Get('lines')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'List lines (filter: siteId)' })
  @ApiQuery({ name: 'siteId', required: false, format: 'uuid' })
  @Returns([LineDto])
  lines(@Query('siteId', optionalUuid) siteId: string | undefined) {
    return this.fleet.listLines(siteId);
  }

  @Post('stations')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Create a station on a line' })
  @Returns(StationDto, 201)
  createStation(@BodyOf(CreateStationDto) body: CreateStationDto, @Req() req: AppRequest) {
    return this.fleet.createStation(contextOf(req), body);
  }

  @Get('stations')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'List stations (filter: lineId)' })
  @ApiQuery({ name: 'lineId', required: false, format: 'uuid' })
  @Returns([StationDto])
  stations(@Query('lineId', optionalUuid) lineId: string | undefined) {
    return this.fleet.listStations(lineId);
  }

  @Post('enrolment-tokens')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Issue a one-time enrolment token for a station (returned once)' })
  @Returns(EnrolmentTokenDto, 201)
  token(@BodyOf(CreateEnrolmentTokenDto) body: CreateEnrolmentTokenDto, @Req() req: AppRequest) {
    return this.fleet.createEnrolmentToken(contextOf(req), body);
  }

  @Delete('enrolment-tokens/:id')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Revoke an enrolment token that has not been used (audited)' })
  @Returns(RevokedEnrolmentTokenDto)
  revokeToken(@Param('id', UuidPipe) id: string, @Req() req: AppRequest) {
    return this.fleet.revokeEnrolmentToken(contextOf(req), id);
  }

  @Get('devices')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'List devices with online status (filters: siteId, lineId, stationId, online)' })
  @Returns([DeviceDto])
  devices(@QueryOf(DeviceQueryDto) q: DeviceQueryDto) {
    return this.fleet.listDevices(q);
  }

  @Get('devices/:id')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'One device' })
  @Returns(DeviceDto)
  device(@Param('id', UuidPipe) id: string) {
    return this.fleet.getDevice(id);
  }

  @Patch('devices/:id')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Rename or disable a device (a disabled device can no longer authenticate)' })
  @Returns(DeviceSummaryDto)
  update(
    @Param('id', UuidPipe) id: string,
    @BodyOf(UpdateDeviceDto) body: UpdateDeviceDto,
    @Req() req: AppRequest,
  ) {
    return this.fleet.updateDevice(contextOf(req), id, body);
  }

  @Get('devices/:id/desired-state')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'The desired state the device is served (model, shadow model, thresholds)' })
  @Returns(DesiredStateDto)
  desiredState(@Param('id', UuidPipe) id: string) {
    return this.desired.forDevice(id);
  }
}
