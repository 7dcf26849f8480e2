import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { RateLimiter } from '../common/rate-limiter.js';
import type { AppRequest } from '../common/request-context.js';
import type { Role } from '../generated/prisma/enums.js';
import { AuthService } from './auth.service.js';
import { PUBLIC_KEY, ROLES_KEY } from './roles.js';

export const RATE_LIMITER = Symbol('RATE_LIMITER');

/** Authenticates every request, enforces @Roles (deny by default) and the per-principal rate limit. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(AuthService) private readonly auth: AuthService,
    @Inject(RATE_LIMITER) private readonly limiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AppRequest>();
    const res = context.switchToHttp().getResponse<Response>();
    const targets = [context.getHandler(), context.getClass()];
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets);
    const roles = this.reflector.getAllAndOverride<Role[]>(ROLES_KEY, targets);
    const token = bearer(req);
    const principal = token ? await this.auth.authenticate(token) : null;
    if (principal) req.principal = principal;
    this.limit(principal ? `${principal.kind}:${principal.id}` : `ip:${req.ip}`, res);
    if (isPublic) return true;
    if (!token) throw new UnauthorizedException('missing credentials: send Authorization: Bearer <token>');
    if (!principal) throw new UnauthorizedException('invalid or expired credentials');
    if (!roles?.includes(principal.role as Role)) {
      throw new ForbiddenException(
        `role "${principal.role}" may not ${req.method} ${req.route?.path ?? req.path}`,
      );
    }
    return true;
  }

  private limit(key: string, res: Response): void {
    const wait = this.limiter.take(key);
    if (wait > 0) {
      res.setHeader('Retry-After', String(wait));
      throw new HttpException(
        { message: `rate limit exceeded; retry in ${wait} s` },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
  }
}

function bearer(req: AppRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h === 'string' && h.startsWith('Bearer ')) return h.slice(7).trim();
  const k = req.headers['x-api-key'];
  if (typeof k === 'string' && k) return k;
  // EventSource cannot send headers: the live stream accepts the token as a query parameter.
  const q = (req.query as Record<string, unknown> | undefined)?.access_token;
  if (typeof q === 'string' && req.path.endsWith('/stream')) return q;
  return null;
}
