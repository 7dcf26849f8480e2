#!/usr/bin/env node
// Lists the licence of every package in package-lock.json (all workspaces, dev and optional dependencies
// included) and fails when one is not compatible with distributing DiAD Edge under Apache-2.0.
//   node scripts/check-licenses.mjs          summary per licence; exit 1 naming each incompatible package
//   node scripts/check-licenses.mjs --list   also one line per package
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/** Permissive licences: compatible with Apache-2.0 in any use. */
const PERMISSIVE = new Set([
  'MIT',
  'ISC',
  'BSD-2-Clause',
  'BSD-3-Clause',
  'Apache-2.0',
  '0BSD',
  'Unlicense',
  'CC0-1.0',
  'CC-BY-4.0',
  'BlueOak-1.0.0',
  'Python-2.0',
  'WTFPL',
  'Zlib',
]);
/**
 * Weak copyleft: fine for a separate, unmodified component (a library loaded at run time or a build tool);
 * changes to those files would have to be published under their licence. Listed so that adding one is seen.
 */
const WEAK_COPYLEFT = new Set(['MPL-2.0', 'LGPL-3.0-or-later', 'EPL-2.0']);

/** Packages whose package.json declares no licence; read from the licence file each ships. */
const DECLARED_IN_LICENSE_FILE = {
  busboy: 'MIT', // legacy "licenses" array, read from node_modules when installed
  streamsearch: 'MIT',
  dequeue: 'BSD-2-Clause',
  'humanize-number': 'MIT', // README "License: MIT"
  only: 'MIT', // README "(The MIT License)"
  humanize: 'MIT',
  precond: 'MIT', // README: "free to use under the terms of the MIT license"
  'seq-queue': 'MIT',
};

function licenseOf(path, entry) {
  if (typeof entry.license === 'string') return entry.license;
  const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const pkgFile = join(root, path, 'package.json');
  if (existsSync(pkgFile)) {
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    if (typeof pkg.license === 'string') return pkg.license;
    const legacy = pkg.licenses ?? (typeof pkg.license === 'object' ? [pkg.license] : undefined);
    if (Array.isArray(legacy) && legacy.length) return legacy.map((l) => l.type ?? l).join(' AND ');
  }
  return DECLARED_IN_LICENSE_FILE[name] ?? 'UNKNOWN';
}

/** 'ok', 'weak' or 'incompatible' for an SPDX expression (OR: the best choice; AND: the worst part). */
function classify(expr) {
  const tokens = expr.replace(/[()]/g, ' ').split(/\s+/).filter(Boolean);
  const rank = (id) => (PERMISSIVE.has(id) ? 0 : WEAK_COPYLEFT.has(id) ? 1 : 2);
  // Split on OR first (lower precedence), then AND.
  const alternatives = tokens
    .join(' ')
    .split(/ or /i)
    .map((alt) => Math.max(...alt.split(/ and /i).map((id) => rank(id.trim()))));
  return ['ok', 'weak', 'incompatible'][Math.min(...alternatives)];
}

const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const list = process.argv.includes('--list');
const byLicense = new Map();
const problems = [];
const weak = [];
for (const [path, entry] of Object.entries(lock.packages)) {
  if (entry.link) continue;
  const workspace = !path.includes('node_modules/');
  const name = workspace ? (entry.name ?? 'diad-edge') : path.slice(path.lastIndexOf('node_modules/') + 13);
  const license = licenseOf(path, entry);
  if (workspace) {
    if (license !== 'Apache-2.0')
      problems.push(`${name} (${path || '.'}): declares "${license}", expected Apache-2.0`);
    continue;
  }
  const kind = classify(license);
  byLicense.set(license, (byLicense.get(license) ?? 0) + 1);
  const line = `${name}@${entry.version} ${license}${entry.dev ? ' (dev)' : ''}${entry.optional ? ' (optional)' : ''}`;
  if (list) console.log(line);
  if (kind === 'incompatible') problems.push(line);
  if (kind === 'weak') weak.push(line);
}
console.log('licences of all dependencies (packages):');
for (const [license, n] of [...byLicense].sort((a, b) => b[1] - a[1]))
  console.log(`  ${String(n).padStart(4)}  ${license}`);
if (weak.length) {
  console.log(`weak copyleft, used unmodified as separate components (${weak.length}):`);
  for (const w of weak) console.log(`  ${w}`);
}
if (problems.length) {
  console.error(`incompatible or unknown licences (${problems.length}):`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log('all licences compatible with Apache-2.0');
