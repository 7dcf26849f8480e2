import { STATUS_CODES } from 'node:http';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from './logger.js';
import type { AppRequest } from './request-context.js';

interface PrismaLikeError {
  code?: string;
  meta?: Record<string, unknown>;
  message: string;
}

/** One error shape for every route: { statusCode, error, message, issues?, requestId }. */
@Catch()
export class AllErrorsFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<AppRequest>();
    let status = HttpStatus.INTERNAL_SERVER_ERROR;
    let body: Record<string, unknown> = { message: 'internal error' };
    const parseError = jsonParseError(exception);
    if (parseError) {
      status = 400;
      body = { message: `body: invalid JSON (${parseError})` };
    } else if (exception instanceof HttpException) {
      status = exception.getStatus();
      const r = exception.getResponse();
      body = typeof r === 'string' ? { message: r } : { ...(r as Record<string, unknown>) };
    } else if (isPrismaError(exception) && exception.code === 'P2002') {
      status = HttpStatus.CONFLICT;
      body = { message: 'already exists', target: exception.meta?.target ?? null };
    } else if (isPrismaError(exception) && exception.code === 'P2025') {
      status = HttpStatus.NOT_FOUND;
      body = { message: 'not found' };
    } else if (isPrismaError(exception) && exception.code === 'P2003') {
      status = HttpStatus.CONFLICT;
      body = { message: 'still referenced by other records' };
    } else if (isHttpishError(exception)) {
      status = exception.status;
      body = { message: exception.message };
    }
    if (status >= 500) this.log.error({ err: exception, requestId: req.requestId }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).json({
      statusCode: status,
      error: STATUS_CODES[status] ?? 'Error',
      ...body,
      requestId: req.requestId ?? null,
    });
  }
}

function isPrismaError(e: unknown): e is PrismaLikeError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as PrismaLikeError).code === 'string' &&
    'clientVersion' in e
  );
}

function isHttpishError(e: unknown): e is { status: number; message: string } {
  const s = (e as { status?: unknown })?.status;
  return typeof s === 'number' && s >= 400 && s < 500 && typeof (e as Error).message === 'string';
}

/** body-parser marks its JSON errors with type "entity.parse.failed" (Nest may wrap them). */
function jsonParseError(e: unknown): string | null {
  for (let x = e, depth = 0; x && depth < 3; x = (x as { cause?: unknown }).cause, depth++) {
    if ((x as { type?: unknown }).type === 'entity.parse.failed') return (x as Error).message;
  }
  if (
    e instanceof HttpException &&
    e.getStatus() === 400 &&
    /JSON/.test(e.message) &&
    !(e.getResponse() as { issues?: unknown }).issues
  ) {
    return e.message;
  }
  return null;
}
