import { createReadStream, existsSync, type Stats, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build -w @diad/dashboard` writes the app, seen from this file in src/ or dist/. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/dist', import.meta.url));

/** Paths the API owns: never answered with the app, even when nothing matched (a 404 there must stay JSON). */
const API_PREFIXES = ['/api', '/docs', '/metrics', '/healthz', '/readyz'];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

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
 * Express-compatible middleware serving the built dashboard at "/": files under `dir` as they are, and
 * index.html for any other GET that asks for HTML (the app routes on the client). Hashed assets are cached
 * for a year, index.html never. API paths and non-GET requests pass through untouched. When `dir` holds no
 * index.html (dashboard not built), every request passes through: the API keeps working without the app.
 */
export function serveDashboard(options: DashboardOptions = {}): DashboardMiddleware {
  const root = resolve(options.dir ?? DEFAULT_DASHBOARD_DIR);
  const index = join(root, 'index.html');
  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !existsSync(index)) return next();
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return next();
    }
    if (API_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`))) return next();
    if (path.includes('\0')) return next();
    const file = normalize(join(root, path));
    // A path that climbs out of the folder (../) is never served; it falls to the HTML fallback or a 404.
    const inside = file === root || file.startsWith(root + sep);
    const stat = inside ? statOrNull(file) : null;
    if (stat?.isFile()) return send(req, res, file, stat, path.startsWith('/assets/'));
    if (extname(path) !== '' && !path.endsWith('.html')) return next();
    if (!acceptsHtml(req)) return next();
    const indexStat = statOrNull(index);
    if (!indexStat) return next();
    send(req, res, index, indexStat, false);
  };
}

function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

function acceptsHtml(req: IncomingMessage): boolean {
  const accept = String(req.headers.accept ?? '');
  return accept === '' || accept.includes('text/html') || accept.includes('*/*');
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
  stat: Stats,
  immutable: boolean,
): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
  res.setHeader('Content-Length', String(stat.size));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  if (file.endsWith('.html')) {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
  }
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
