#!/usr/bin/env node
// Reduces a production `npm ci --omit=dev` of the whole workspace to what the given workspaces load at run time:
// the closure of their dependencies (dependencies, optionalDependencies and required peerDependencies, resolved
// the way Node resolves them through nested and hoisted node_modules). Everything else under node_modules is
// removed, with source maps, TypeScript declarations and .bin links.
//   usage: node prune-deps.mjs [--prisma-provider=postgresql] <workspace dir>...
// --prisma-provider keeps only that provider's Prisma query compiler (the client ships one per database).
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const args = process.argv.slice(2);
const provider = args.find((a) => a.startsWith('--prisma-provider='))?.split('=')[1];
const roots = args.filter((a) => !a.startsWith('--')).map((a) => resolve(a));
if (roots.length === 0) {
  console.error('usage: prune-deps.mjs [--prisma-provider=postgresql] <workspace dir>...');
  process.exit(2);
}
const top = resolve('node_modules');
const keep = new Set();

function findPackage(name, fromDir) {
  for (let d = fromDir; ; d = dirname(d)) {
    const p = join(d, 'node_modules', name);
    if (existsSync(join(p, 'package.json'))) return p;
    if (d === dirname(d)) return undefined;
  }
}

function visit(dir) {
  const real = realpathSync(dir);
  if (keep.has(dir) && keep.has(real)) return;
  keep.add(dir);
  keep.add(real);
  const pkg = JSON.parse(readFileSync(join(real, 'package.json'), 'utf8'));
  const optionalPeers = pkg.peerDependenciesMeta ?? {};
  const deps = {
    ...pkg.dependencies,
    ...pkg.optionalDependencies,
    ...Object.fromEntries(
      Object.entries(pkg.peerDependencies ?? {}).filter(([n]) => !optionalPeers[n]?.optional),
    ),
  };
  for (const name of Object.keys(deps)) {
    // Look from the symlink's location first (hoisted), then from the real path (workspace packages).
    const found = findPackage(name, dir) ?? findPackage(name, real);
    if (found) visit(found);
    else if (!(name in (pkg.optionalDependencies ?? {})) && !(name in (pkg.peerDependencies ?? {})))
      throw new Error(`${pkg.name}: dependency ${name} not installed`);
  }
}
for (const r of roots) visit(r);

let removed = 0;
function sweep(nm) {
  if (!existsSync(nm)) return;
  for (const entry of readdirSync(nm)) {
    const p = join(nm, entry);
    if (entry === '.bin' || entry === '.package-lock.json' || entry === '.cache') {
      rmSync(p, { recursive: true, force: true });
      continue;
    }
    if (entry.startsWith('@')) {
      for (const sub of readdirSync(p)) check(join(p, sub));
      if (readdirSync(p).length === 0) rmSync(p, { recursive: true });
    } else check(p);
  }
}
function check(p) {
  if (!keep.has(p)) {
    rmSync(p, { recursive: true, force: true });
    removed++;
    return;
  }
  if (!lstatSync(p).isSymbolicLink()) sweep(join(p, 'node_modules'));
}
sweep(top);

// Files nothing loads at run time.
function strip(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) strip(p);
    else if (/\.(map|d\.ts|d\.mts|d\.cts|tsbuildinfo)$/.test(entry.name)) rmSync(p);
  }
}
strip(top);

if (provider) {
  const rt = join(top, '@prisma/client/runtime');
  if (existsSync(rt)) {
    for (const f of readdirSync(rt)) {
      const m = f.match(/^query_compiler_(fast|small)_bg\.(\w+)\./);
      if (m && (m[2] !== provider || m[1] !== 'fast')) rmSync(join(rt, f));
    }
  }
}
console.log(
  `prune-deps: kept ${new Set([...keep].map((p) => realpathSync(p))).size} packages for ${roots.map((r) => r.replace(`${process.cwd()}/`, '')).join(', ')}, removed ${removed}`,
);
