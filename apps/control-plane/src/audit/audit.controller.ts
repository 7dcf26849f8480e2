import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HUMANS, Roles } from '../auth/roles.js';
import { parse } from '../common/validation.js';
import { AuditQuery, AuditService } from './audit.service.js';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('api/v1/audit')
export class AuditController {
  constructor(@Inject(AuditService) private readonly audit: AuditService) {}

  @Get()
  @Roles(...HUMANS)
  @ApiOperation({
    summary:
      'Query the append-only audit log (newest first; filters: entityType, entityId, actorId, action, from, to)',
  })
  list(@Query() q: unknown) {
    return this.audit.query(parse(AuditQuery, q, 'query'));
  }
}
