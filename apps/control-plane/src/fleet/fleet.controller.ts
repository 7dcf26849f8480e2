import { Body, Controller, Delete, Get, Inject, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HUMANS, OPERATORS, Roles } from '../auth/roles.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import { jsonSchema, parse, uuidParam } from '../common/validation.js';
import { DesiredStateService } from './desired-state.service.js';
import {
  CreateEnrolmentToken,
  CreateLine,
  CreateSite,
  CreateStation,
  DeviceQuery,
  FleetService,
  UpdateDevice,
} from './fleet.service.js';

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
  @ApiBody({ schema: jsonSchema(CreateSite) })
  createSite(@Body() body: unknown, @Req() req: AppRequest) {
    return this.fleet.createSite(contextOf(req), parse(CreateSite, body, 'body'));
  }

  @Get('sites')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'List sites' })
  sites() {
    return this.fleet.listSites();
  }

  @Post('lines')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Create a line in a site' })
  @ApiBody({ schema: jsonSchema(CreateLine) })
  createLine(@Body() body: unknown, @Req() req: AppRequest) {
    return this.fleet.createLine(contextOf(req), parse(CreateLine, body, 'body'));
  }

  @Get('lines')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'List lines (filter: siteId)' })
  lines(@Query('siteId') siteId: unknown) {
    return this.fleet.listLines(parse(uuidParam.optional(), siteId, 'siteId'));
  }

  @Post('stations')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Create a station on a line' })
  @ApiBody({ schema: jsonSchema(CreateStation) })
  createStation(@Body() body: unknown, @Req() req: AppRequest) {
    return this.fleet.createStation(contextOf(req), parse(CreateStation, body, 'body'));
  }

  @Get('stations')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'List stations (filter: lineId)' })
  stations(@Query('lineId') lineId: unknown) {
    return this.fleet.listStations(parse(uuidParam.optional(), lineId, 'lineId'));
  }

  @Post('enrolment-tokens')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Issue a one-time enrolment token for a station (returned once)' })
  @ApiBody({ schema: jsonSchema(CreateEnrolmentToken) })
  token(@Body() body: unknown, @Req() req: AppRequest) {
    return this.fleet.createEnrolmentToken(contextOf(req), parse(CreateEnrolmentToken, body, 'body'));
  }

  @Delete('enrolment-tokens/:id')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Revoke an enrolment token that has not been used (audited)' })
  revokeToken(@Param('id') id: string, @Req() req: AppRequest) {
    return this.fleet.revokeEnrolmentToken(contextOf(req), parse(uuidParam, id, 'id'));
  }

  @Get('devices')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'List devices with online status (filters: siteId, lineId, stationId, online)' })
  devices(@Query() q: unknown) {
    return this.fleet.listDevices(parse(DeviceQuery, q, 'query'));
  }

  @Get('devices/:id')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'One device' })
  device(@Param('id') id: string) {
    return this.fleet.getDevice(parse(uuidParam, id, 'id'));
  }

  @Patch('devices/:id')
  @Roles(...OPERATORS)
  @ApiOperation({ summary: 'Rename or disable a device (a disabled device can no longer authenticate)' })
  @ApiBody({ schema: jsonSchema(UpdateDevice) })
  update(@Param('id') id: string, @Body() body: unknown, @Req() req: AppRequest) {
    return this.fleet.updateDevice(
      contextOf(req),
      parse(uuidParam, id, 'id'),
      parse(UpdateDevice, body, 'body'),
    );
  }

  @Get('devices/:id/desired-state')
  @Roles(...HUMANS)
  @ApiOperation({ summary: 'The desired state the device is served (model, shadow model, thresholds)' })
  desiredState(@Param('id') id: string) {
    return this.desired.forDevice(parse(uuidParam, id, 'id'));
  }
}
