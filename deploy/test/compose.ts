/**
 * Reads deploy/compose the way Compose does for what the tests need: YAML, `${VAR:-default}` interpolation,
 * overlay merge (mappings merged key by key, everything else replaced; `secrets`/`volumes` short and long forms
 * kept as written), and checks that the result resolves (services, volumes, secrets, healthchecks, start order).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';

export type Obj = Record<string, unknown>;
export const COMPOSE_DIR = resolve(import.meta.dirname, '../compose');

export function interpolate(v: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof v === 'string') {
    return v.replace(
      /\$\$|\$\{(\w+)(?::?-([^}]*))?\}/g,
      (m, name: string | undefined, def: string | undefined) => {
        if (m === '$$') return '$';
        const val = env[name ?? ''];
        if (val !== undefined && val !== '') return val;
        if (def !== undefined) return def;
        throw new Error(`variable ${name} is not set and has no default`);
      },
    );
  }
  if (Array.isArray(v)) return v.map((x) => interpolate(x, env));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolate(x, env)]));
  return v;
}

function isObj(v: unknown): v is Obj {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

export function merge(a: unknown, b: unknown): unknown {
  if (isObj(a) && isObj(b)) {
    const out: Obj = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in a ? merge(a[k], v) : v;
    return out;
  }
  return b;
}

export function loadYaml(file: string): Obj {
  return parse(readFileSync(resolve(COMPOSE_DIR, file), 'utf8')) as Obj;
}

/** The project as `docker compose -f compose.yaml -f <overlay>` sees it. */
export function loadProject(files: string[], env: Record<string, string | undefined> = {}): Obj {
  let out: unknown = {};
  for (const f of files) out = merge(out, interpolate(loadYaml(f), env));
  return out as Obj;
}

export interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  secrets?: (string | { source: string; target?: string })[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
  [k: string]: unknown;
}

export function services(p: Obj): Record<string, Service> {
  return p.services as Record<string, Service>;
}

/** Where each of a service's secrets is mounted: target path → secret name. */
export function secretMounts(svc: Service): { name: string; target: string }[] {
  return (svc.secrets ?? []).map((s) => {
    if (typeof s === 'string') return { name: s, target: `/run/secrets/${s}` };
    const t = s.target ?? s.source;
    return { name: s.source, target: t.startsWith('/') ? t : `/run/secrets/${t}` };
  });
}

/** The resolution checks `docker compose config` would fail on, plus our own (healthchecks, start order). */
export function resolveProject(p: Obj): string[] {
  const errors: string[] = [];
  const svcs = services(p);
  const volumes = (p.volumes ?? {}) as Obj;
  const secrets = (p.secrets ?? {}) as Record<string, { file?: string }>;
  for (const [name, s] of Object.entries(svcs)) {
    if (!s.image) errors.push(`${name}: no image`);
    for (const { name: sec } of secretMounts(s)) {
      if (!secrets[sec]) errors.push(`${name}: secret ${sec} not defined`);
    }
    for (const v of s.volumes ?? []) {
      const [src] = v.split(':');
      if (!src) continue;
      if (src.startsWith('.') || src.startsWith('/')) {
        // bind mounts: config files must exist; data folders are created by Compose
        if (/\.(conf|ya?ml|json)$/.test(src) && !existsSync(resolve(COMPOSE_DIR, src)))
          errors.push(`${name}: bind source ${src} missing`);
      } else if (!(src in volumes)) errors.push(`${name}: volume ${src} not defined`);
    }
    for (const [dep, d] of Object.entries(s.depends_on ?? {})) {
      const target = svcs[dep];
      if (!target) errors.push(`${name}: depends_on ${dep}: no such service`);
      else if (d.condition === 'service_healthy' && !target.healthcheck)
        errors.push(`${name}: waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
      else if (d.condition === 'service_completed_successfully' && target.restart !== 'no')
        errors.push(`${name}: waits for ${dep} to complete, but ${dep} restarts`);
    }
    if (s.restart !== 'no' && !s.healthcheck)
      errors.push(`${name}: long-running service without a healthcheck`);
  }
  for (const [n, sec] of Object.entries(secrets)) {
    if (!sec.file) errors.push(`secret ${n}: only file secrets are used on a plant`);
    else if (!sec.file.startsWith('./secrets/')) errors.push(`secret ${n}: expected under ./secrets/`);
  }
  // start order has no cycle
  const seen = new Set<string>();
  const visiting = new Set<string>();
  const visit = (n: string) => {
    if (seen.has(n)) return;
    if (visiting.has(n)) {
      errors.push(`depends_on cycle through ${n}`);
      return;
    }
    visiting.add(n);
    for (const d of Object.keys(svcs[n]?.depends_on ?? {})) visit(d);
    visiting.delete(n);
    seen.add(n);
  };
  for (const n of Object.keys(svcs)) visit(n);
  return errors;
}

/** Services in start order (dependencies first). */
export function startOrder(p: Obj): string[] {
  const svcs = services(p);
  const out: string[] = [];
  const visit = (n: string) => {
    if (out.includes(n)) return;
    for (const d of Object.keys(svcs[n]?.depends_on ?? {})) visit(d);
    out.push(n);
  };
  for (const n of Object.keys(svcs)) visit(n);
  return out;
}

export const composeDir = (f: string) => dirname(resolve(COMPOSE_DIR, f));
