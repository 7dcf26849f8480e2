import { uuidv7 } from '@diad/protocol';
import type { NextFunction, Response } from 'express';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { AppRequest } from './request-context.js';

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The URL with the value of every query key that decodes to `access_token` (also `access%5Ftoken`, `access_token[]`,
 * as the query parser reads them) replaced by `***`, so a token given in the URL never reaches the log.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url
    .slice(q + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      const rawKey = eq < 0 ? part : part.slice(0, eq);
      let key = rawKey;
      try {
        key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
      } catch {
        // an undecodable key is logged as given
      }
      return /^\s*access_token/i.test(key) ? `${rawKey}=***` : part;
    });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

/** Request id (kept from X-Request-Id when sane), one log line and one histogram sample per request. */
export function httpMiddleware(log: Logger, metrics: Metrics) {
  return (req: AppRequest, res: Response, next: NextFunction) => {
    const given = req.headers['x-request-id'];
    req.requestId = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : uuidv7();
    res.setHeader('X-Request-Id', req.requestId as string);
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = req.route?.path ?? (res.statusCode === 404 ? 'unmatched' : req.path);
      metrics.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      log.info(
        {
          requestId: req.requestId,
          method: req.method,
          url: redactUrl(req.originalUrl),
          status: res.statusCode,
          ms: Math.round(seconds * 1000),
          principal: req.principal ? `${req.principal.kind}:${req.principal.name}` : null,
        },
        'request',
      );
    });
    next();
  };
}
