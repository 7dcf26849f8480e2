/**
 * The subset of kustomize that deploy/k8s uses, to render overlays offline in tests: `resources` (files and
 * kustomization folders, recursively), `namespace`, `images` (newName/newTag) and `patches` with inline JSON 6902
 * operations (add, replace, remove) selected by kind and name. Anything else in a kustomization is an error, so
 * the manifests cannot drift into features this renderer would silently ignore.
 */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

const KNOWN = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches']);
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'RuntimeClass',
  'CustomResourceDefinition',
]);

interface Kustomization {
  resources?: string[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
}

export function render(dir: string): K8sObject[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  for (const key of Object.keys(k))
    if (!KNOWN.has(key)) throw new Error(`${dir}: kustomization key ${key} not supported`);
  let objs: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const p = resolve(dir, r);
    if (statSync(p).isDirectory()) objs.push(...render(p));
    else {
      for (const doc of parseAllDocuments(readFileSync(p, 'utf8'))) {
        if (doc.errors.length) throw new Error(`${p}: ${doc.errors[0]?.message}`);
        const o = doc.toJS() as K8sObject | null;
        if (o) objs.push(o);
      }
    }
  }
  if (k.namespace) {
    objs = objs.map((o) => {
      if (CLUSTER_SCOPED.has(o.kind)) return o;
      return { ...o, metadata: { ...o.metadata, namespace: k.namespace } };
    });
  }
  for (const img of k.images ?? []) {
    for (const o of objs) {
      for (const c of containers(o)) {
        const [name] = splitImage(c.image);
        if (name === img.name) {
          const tag = img.newTag ?? splitImage(c.image)[1];
          c.image = `${img.newName ?? name}${tag ? `:${tag}` : ''}`;
        }
      }
    }
  }
  for (const p of k.patches ?? []) {
    const targets = objs.filter((o) => o.kind === p.target.kind && o.metadata.name === p.target.name);
    if (targets.length !== 1)
      throw new Error(`${dir}: patch target ${p.target.kind}/${p.target.name} matched ${targets.length}`);
    const ops = parse(p.patch) as { op: string; path: string; value?: unknown }[];
    for (const op of ops) applyOp(targets[0] as K8sObject, op);
  }
  return objs;
}

function splitImage(image: string): [string, string | undefined] {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, undefined];
}

export function podSpec(o: K8sObject): Record<string, unknown> | undefined {
  const spec = o.spec as Record<string, unknown> | undefined;
  const tpl = spec?.template as { spec?: Record<string, unknown> } | undefined;
  return tpl?.spec;
}

export function containers(o: K8sObject): { name: string; image: string; [k: string]: unknown }[] {
  const ps = podSpec(o);
  if (!ps) return [];
  return [...((ps.initContainers as never[]) ?? []), ...((ps.containers as never[]) ?? [])];
}

function applyOp(obj: unknown, op: { op: string; path: string; value?: unknown }): void {
  const parts = op.path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = parts.pop();
  if (last === undefined) throw new Error(`patch path ${op.path}`);
  let cur = obj as Record<string, unknown>;
  for (const p of parts) {
    const next = Array.isArray(cur) ? cur[Number(p)] : cur[p];
    if (next === undefined || next === null) throw new Error(`patch path ${op.path}: ${p} missing`);
    cur = next as Record<string, unknown>;
  }
  if (op.op === 'add' || op.op === 'replace') {
    if (op.op === 'replace' && !(last in cur))
      throw new Error(`patch replace ${op.path}: nothing to replace`);
    if (Array.isArray(cur) && last === '-') cur.push(op.value);
    else cur[last] = op.value;
  } else if (op.op === 'remove') {
    if (!(last in cur)) throw new Error(`patch remove ${op.path}: missing`);
    delete cur[last];
  } else throw new Error(`patch op ${op.op} not supported`);
}
