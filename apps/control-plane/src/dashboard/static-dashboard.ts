import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import serveStatic from 'serve-static';

/** Where `npm run build -w @diad/dashboard` writes the app, seen from this file in src/ or dist/. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/dist', import.meta.url));

/** Paths the API owns: never answered with the app, even when nothing matched (a 404 there must stay JSON). */
const API_PREFIXES = ['/api', '/docs', '/metrics', '/healthz', '/readyz'];

// The app itself may only talk to its own origin; images are fetched as blobs (blob: URLs).
const CSP =
  "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

type Next = (err?: unknown) => void;
export type DashboardMiddleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

export interface DashboardOptions {
  /** The built app (folder holding index.html); defaults to apps/dashboard/dist. */
  dir?: string;
}

/**
 * Express-compatible middleware serving the built dashboard at "/" through serve-static: files under `dir` as they
 * are (ETag, Last-Modified, ranges), and index.html for any other GET that asks for HTML (the app routes on the
 * client). Hashed assets are cached for a year, everything else revalidated; HTML carries the CSP. API paths and
 * non-GET requests pass through untouched. When `dir` holds no index.html (dashboard not built), every request
 * passes through: the API keeps working without the app.
 */
export function serveDashboard(options: DashboardOptions = {}): DashboardMiddleware {
  const root = resolve(options.dir ?? DEFAULT_DASHBOARD_DIR);
  const index = join(root, 'index.html');
  const assets = join(root, 'assets') + sep;
  const files = serveStatic(root, {
    index: false,
    redirect: false,
    dotfiles: 'ignore',
    fallthrough: true,
    cacheControl: false,
    setHeaders(res, file) {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader(
        'Cache-Control',
        file.startsWith(assets) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      if (file.endsWith('.html')) {
        res.setHeader('Content-Security-Policy', CSP);
        res.setHeader('Referrer-Policy', 'no-referrer');
      }
    },
  });
  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !existsSync(index)) return next();
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return next();
    }
    if (API_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`))) return next();
    files(req, res, (err?: unknown) => {
      if (err) return next(err);
      // Not a file: the app's client-side routes get index.html; other files and non-HTML requests fall through.
      if (extname(path) !== '' && !path.endsWith('.html')) return next();
      if (!acceptsHtml(req)) return next();
      const url = req.url;
      req.url = '/index.html';
      files(req, res, (e?: unknown) => {
        req.url = url;
        next(e);
      });
    });
  };
}

function acceptsHtml(req: IncomingMessage): boolean {
  const accept = String(req.headers.accept ?? '');
  return accept === '' || accept.includes('text/html') || accept.includes('*/*');
}
