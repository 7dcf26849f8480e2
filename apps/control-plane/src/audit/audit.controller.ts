import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HUMANS, Roles } from '../auth/roles.js';
import { QueryOf, Returns } from '../common/dto.js';
import { AuditPageDto, AuditQueryDto } from './audit.dto.js';
import { AuditService } from './audit.service.js';

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
  @Returns(AuditPageDto)
  list(@QueryOf(AuditQueryDto) q: AuditQueryDto) {
    return this.audit.query(q);
  }
}
