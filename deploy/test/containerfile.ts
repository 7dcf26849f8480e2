/**
 * A small Containerfile parser and the checks every DiAD image must pass (a hadolint-like subset plus our own
 * rules). Used by deploy/test/static.test.ts and by the deploy suite; the CUDA, Jetson and trainer targets are
 * only checked this way because their bases cannot be pulled on the test machines.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  /** the FROM argument as written (a stage name, an image, or ${ARG}) */
  from: string;
  /** the parent stage when FROM names an earlier stage */
  parent?: string;
  instructions: Instruction[];
}

export interface Containerfile {
  globalArgs: Map<string, string | undefined>;
  stages: Stage[];
}

export function parseContainerfile(text: string): Containerfile {
  const lines = text.split('\n');
  const instructions: Instruction[] = [];
  let buf = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const trimmed = raw.trim();
    if (!buf && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (buf && trimmed.startsWith('#')) continue; // comment lines inside a continuation
    if (!buf) start = i + 1;
    if (trimmed.endsWith('\\')) {
      buf += `${trimmed.slice(0, -1)} `;
      continue;
    }
    buf += trimmed;
    const m = buf.match(/^(\w+)\s+([\s\S]*)$/);
    if (!m) throw new Error(`line ${start}: cannot parse "${buf}"`);
    instructions.push({ op: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim(), line: start });
    buf = '';
  }
  const globalArgs = new Map<string, string | undefined>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = ins.args.match(/^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i);
      if (!m) throw new Error(`line ${ins.line}: FROM ${ins.args}`);
      const from = m[1] ?? '';
      const name = m[2] ?? `stage-${stages.length}`;
      const parent = stages.find((s) => s.name === from)?.name;
      stages.push({ name, from, parent, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.op !== 'ARG') throw new Error(`line ${ins.line}: ${ins.op} before the first FROM`);
      const [k, v] = ins.args.split(/=(.*)/s);
      globalArgs.set((k ?? '').trim(), v);
    } else {
      stages[stages.length - 1]?.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

/** The stage and its FROM ancestors inside the file, the target last. */
export function chain(cf: Containerfile, target: string): Stage[] {
  const out: Stage[] = [];
  let s = cf.stages.find((x) => x.name === target);
  while (s) {
    out.unshift(s);
    s = s.parent ? cf.stages.find((x) => x.name === s?.parent) : undefined;
  }
  return out;
}

export const TARGETS = ['control-plane', 'agent', 'agent-cuda', 'agent-jetson', 'trainer'] as const;
const AGENT_TARGETS = new Set(['agent', 'agent-cuda', 'agent-jetson']);
const REQUIRED_LABELS = [
  'org.opencontainers.image.title',
  'org.opencontainers.image.source',
  'org.opencontainers.image.version',
  'org.opencontainers.image.revision',
  'org.opencontainers.image.licenses',
];

export function lintContainerfile(text: string, repoRoot = resolve(import.meta.dirname, '../..')) {
  const cf = parseContainerfile(text);
  const errors: string[] = [];
  const summary: string[] = [];
  const names = new Set<string>();
  for (const s of cf.stages) {
    if (names.has(s.name)) errors.push(`stage ${s.name} defined twice`);
    names.add(s.name);
    // Base images: an earlier stage, or a global ARG whose default is a pinned, registry-qualified reference.
    if (!s.parent) {
      const arg = s.from.match(/^\$\{?(\w+)\}?$/)?.[1];
      if (!arg)
        errors.push(`${s.name}: FROM ${s.from}: base must be a build argument (ARG) or an earlier stage`);
      else {
        const def = cf.globalArgs.get(arg);
        if (def === undefined) errors.push(`${s.name}: FROM \${${arg}}: the ARG has no default`);
        else if (!/^[a-z0-9.-]+\.[a-z]+(:\d+)?\/[\w./-]+:[\w.-]+$/.test(def))
          errors.push(`${s.name}: ${arg}=${def}: expected registry/name:tag`);
        else if (/:latest$/.test(def)) errors.push(`${s.name}: ${arg}=${def}: pin a tag, not latest`);
      }
    }
    for (const ins of s.instructions) {
      const where = `${s.name} (line ${ins.line})`;
      if (ins.op === 'MAINTAINER') errors.push(`${where}: MAINTAINER is deprecated, use a label`);
      if (ins.op === 'ADD' && /https?:\/\//.test(ins.args)) errors.push(`${where}: ADD of a URL`);
      if (ins.op === 'COPY' || ins.op === 'ADD') {
        const from = ins.args.match(/--from=(\S+)/)?.[1];
        if (from) {
          const idx = cf.stages.findIndex((x) => x.name === from);
          if (idx < 0 || idx >= cf.stages.indexOf(s))
            errors.push(`${where}: COPY --from=${from}: no earlier stage`);
        } else {
          const parts = ins.args.replace(/--\S+/g, '').trim().split(/\s+/);
          for (const src of parts.slice(0, -1)) {
            if (!existsSync(resolve(repoRoot, src.replace(/\*.*$/, ''))))
              errors.push(`${where}: COPY source ${src} missing`);
          }
        }
      }
      if (ins.op === 'RUN') {
        if (/apt-get install/.test(ins.args)) {
          if (!/--no-install-recommends/.test(ins.args))
            errors.push(`${where}: apt-get install without --no-install-recommends`);
          if (!/rm -rf \/var\/lib\/apt\/lists/.test(ins.args))
            errors.push(`${where}: apt lists not removed in the same RUN`);
          if (!/apt-get update/.test(ins.args))
            errors.push(`${where}: apt-get install without apt-get update`);
        }
        if (/\bnpm install\b/.test(ins.args))
          errors.push(`${where}: npm install (use npm ci with the lockfile)`);
        if (/\bsudo\b/.test(ins.args)) errors.push(`${where}: sudo`);
        if (/curl [^|]*\|\s*(ba)?sh/.test(ins.args)) errors.push(`${where}: piping a download into a shell`);
      }
    }
  }
  for (const t of TARGETS) {
    const c = chain(cf, t);
    if (c.length === 0) {
      errors.push(`target ${t} missing`);
      continue;
    }
    const all = c.flatMap((s) => s.instructions);
    const last = (op: string) => all.filter((i) => i.op === op).at(-1);
    const user = last('USER')?.args;
    if (!user || /^(0|root)(:|$)/.test(user)) errors.push(`${t}: runs as root (USER ${user ?? 'unset'})`);
    const hc = last('HEALTHCHECK')?.args;
    if (!hc || /^NONE/i.test(hc)) errors.push(`${t}: no HEALTHCHECK`);
    if (!last('ENTRYPOINT')) errors.push(`${t}: no ENTRYPOINT`);
    const labels = all
      .filter((i) => i.op === 'LABEL')
      .map((i) => i.args)
      .join(' ');
    for (const l of REQUIRED_LABELS) if (!labels.includes(`${l}=`)) errors.push(`${t}: label ${l} missing`);
    const volumes = all
      .filter((i) => i.op === 'VOLUME')
      .map((i) => i.args)
      .join(' ');
    if (AGENT_TARGETS.has(t) && !volumes.includes('/var/lib/diad-agent'))
      errors.push(`${t}: no VOLUME for the agent state (outbox, credential, bundles)`);
    // Production dependencies only: every deps stage a Node target copies node_modules from uses --omit=dev.
    for (const ins of all.filter((i) => i.op === 'COPY' && /\snode_modules\/?$/.test(i.args))) {
      const from = ins.args.match(/--from=(\S+)/)?.[1];
      const runs = from ? chain(cf, from).flatMap((st) => st.instructions.filter((i) => i.op === 'RUN')) : [];
      const npm = runs.find((i) => /npm ci/.test(i.args));
      if (!npm || !/--omit=dev/.test(npm.args))
        errors.push(`${t}: node_modules from ${from} is not a production install`);
      if (!runs.some((i) => /prune-deps\.mjs/.test(i.args)))
        errors.push(`${t}: node_modules from ${from} is not pruned to the workspace's dependency closure`);
      if (AGENT_TARGETS.has(t) && !runs.some((i) => /prune-onnxruntime/.test(i.args)))
        errors.push(`${t}: ${from} keeps every platform's ONNX Runtime binaries`);
    }
    const base = c[0]?.from ?? '';
    const arg = base.match(/^\$\{?(\w+)\}?$/)?.[1];
    summary.push(
      `${t}: base ${arg ? `${arg}=${cf.globalArgs.get(arg)}` : base}, user ${user}, ` +
        `healthcheck ${hc?.includes('healthcheck.mjs') ? 'HTTP /healthz' : 'command'}, volumes ${volumes || 'none'}`,
    );
  }
  return { cf, errors, summary };
}
