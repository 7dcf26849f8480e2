/**
 * The trainer worker: a process of its own (training/worker-main.ts) beside the Python tools, on a CPU or GPU
 * machine. It takes one job at a time from the pg-boss queue, and for each: downloads the frozen dataset from the
 * control plane, runs `tools.diad.train` (resumable: a job's run folder is kept between attempts), exports and
 * registers the bundle, then measures the candidate and the line's current model on the dataset's validation
 * split with `diad inspect` and records both evaluations, so a rollout can require the evidence. It writes
 * progress (stage, step, loss, ETA) to the job's row, and stops its tools when the job is cancelled.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { auroc } from '@diad/metrics';
import pg from 'pg';
import type PgBoss from 'pg-boss';
import tar from 'tar-stream';
import type { EvaluationReport } from '../lifecycle/evidence.js';
import { bossSchema, openBoss, TRAINING_QUEUE, type TrainingQueueMessage } from './queue.js';
import type { CreateTrainingJob } from './training.service.js';

export interface WorkerOptions {
  databaseUrl: string;
  databaseSchema: string;
  controlPlaneUrl: string;
  username: string;
  password: string;
  workDir: string;
  /** Repository root: tools/ (Python) and packages/cli (the `diad` command) live there. */
  repoRoot: string;
  python: string;
  name?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** How often a running job's row is checked for cancellation. */
  cancelPollMs?: number;
}

class Cancelled extends Error {}

export class TrainerWorker {
  private boss: PgBoss | null = null;
  private readonly pool: pg.Pool;
  private readonly name: string;
  private token: string | null = null;
  private children = new Set<ChildProcess>();

  constructor(private readonly o: WorkerOptions) {
    this.pool = new pg.Pool({ connectionString: o.databaseUrl, max: 2 });
    this.pool.on('connect', (c) => {
      c.query(`SET search_path TO "${o.databaseSchema.replace(/"/g, '')}"`).catch(() => {});
    });
    this.name = o.name ?? `${hostname()}:${process.pid}`;
  }

  private log(msg: string, fields: Record<string, unknown> = {}) {
    this.o.log?.(msg, fields);
  }

  async start(): Promise<void> {
    this.boss = await openBoss(this.o.databaseUrl, bossSchema(this.o.databaseSchema));
    // One job per worker: batch of one, and the next fetch only after the handler returns.
    await this.boss.work<TrainingQueueMessage>(
      TRAINING_QUEUE,
      { batchSize: 1, pollingIntervalSeconds: 1 },
      async ([job]) => this.handle(job.data.trainingJobId),
    );
    this.log('trainer worker started', { worker: this.name });
  }

  async stop(): Promise<void> {
    for (const c of this.children) c.kill('SIGTERM');
    await this.boss?.stop({ graceful: false, wait: false }).catch(() => {});
    await this.pool.end().catch(() => {});
  }

  private async row(id: string) {
    const r = await this.pool.query('SELECT * FROM training_jobs WHERE id = $1', [id]);
    return r.rows[0] as
      | { id: string; status: string; config: CreateTrainingJob; dataset_id: string; line_id: string }
      | undefined;
  }

  private async update(id: string, set: Record<string, unknown>) {
    const keys = Object.keys(set);
    const sql = `UPDATE training_jobs SET ${keys.map((k, i) => `"${k}" = $${i + 2}`).join(', ')} WHERE id = $1`;
    await this.pool.query(sql, [
      id,
      ...keys.map((k) =>
        typeof set[k] === 'object' && set[k] !== null && !(set[k] instanceof Date)
          ? JSON.stringify(set[k])
          : set[k],
      ),
    ]);
  }

  async handle(id: string): Promise<void> {
    const job = await this.row(id);
    if (!job || job.status === 'cancelled' || job.status === 'succeeded') return;
    await this.pool.query(
      `UPDATE training_jobs SET status = 'running', attempts = attempts + 1, worker = $2, started_at = now(), error = NULL WHERE id = $1`,
      [id, this.name],
    );
    const dir = join(this.o.workDir, id);
    const watch = setInterval(() => {
      this.row(id)
        .then((r) => {
          if (r?.status === 'cancelled') for (const c of this.children) c.kill('SIGTERM');
        })
        .catch(() => {});
    }, this.o.cancelPollMs ?? 2000);
    try {
      const cfg = job.config;
      const data = join(dir, 'data');
      await rm(data, { recursive: true, force: true });
      await this.downloadDataset(job.dataset_id, data);
      await this.update(id, { progress: { stage: 'train', step: 0 } });
      const run = join(dir, 'run');
      const args = ['-m', 'tools.diad.train', '--data', data, '--config', cfg.config, '--out', run];
      args.push('--max-minutes', String(cfg.maxMinutes), '--seed', String(cfg.seed), '--log-every', '5');
      if (cfg.imageSize) args.push('--image-size', String(cfg.imageSize));
      await this.tool(id, this.o.python, args, (line) => this.onTrainLine(id, line));
      if ((await this.row(id))?.status === 'cancelled') throw new Cancelled();
      await this.update(id, { progress: { stage: 'export' } });
      const version = await this.nextVersion(cfg.modelName);
      const bundle = join(dir, 'bundle', `${cfg.modelName}-${version}`);
      await rm(dirname(bundle), { recursive: true, force: true });
      await this.tool(id, this.o.python, [
        '-m',
        'tools.diad.export',
        '--checkpoint',
        join(run, 'model.pt'),
        '--out',
        bundle,
        '--tar',
        '--name',
        cfg.modelName,
        '--version',
        version,
      ]);
      const mv = await this.register(`${bundle}.tar`);
      await this.update(id, { progress: { stage: 'evaluate' }, model_version_id: mv.id });
      await this.evaluateAgainstCurrent(id, job.line_id, job.dataset_id, data, bundle, mv.id);
      await this.update(id, { status: 'succeeded', finished_at: new Date(), progress: { stage: 'done' } });
      this.log('training job succeeded', { id, modelVersion: `${cfg.modelName}@${version}` });
    } catch (e) {
      const cancelled = e instanceof Cancelled || (await this.row(id))?.status === 'cancelled';
      await this.update(id, {
        status: cancelled ? 'cancelled' : 'failed',
        error: cancelled ? null : (e as Error).message.slice(0, 4000),
        finished_at: new Date(),
      });
      this.log(cancelled ? 'training job cancelled' : 'training job failed', {
        id,
        err: (e as Error).message,
      });
    } finally {
      clearInterval(watch);
    }
  }

  private async onTrainLine(id: string, line: string) {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof rec.step !== 'number' || typeof rec.stage !== 'string') return;
    await this.update(id, {
      progress: { stage: rec.stage, step: rec.step, of: rec.of, loss: rec.loss, etaMinutes: rec.eta_min },
    }).catch(() => {});
  }

  /** Runs a tool in the repository root; stdout lines go to `onLine`; a non-zero exit is an error with its tail. */
  private tool(id: string, cmd: string, args: string[], onLine?: (l: string) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { cwd: this.o.repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      this.children.add(child);
      let tail = '';
      let buf = '';
      child.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) onLine?.(l);
      });
      child.stderr.on('data', (c: Buffer) => {
        tail = (tail + c.toString()).slice(-2000);
      });
      child.on('error', (e) => {
        this.children.delete(child);
        reject(e);
      });
      child.on('close', (code, signal) => {
        this.children.delete(child);
        if (code === 0) resolve();
        else if (signal === 'SIGTERM') reject(new Cancelled(`${id}: stopped`));
        else
          reject(
            new Error(
              `${args[1] ?? cmd} exited with ${code ?? signal}: ${tail.trim().split('\n').slice(-3).join(' | ')}`,
            ),
          );
      });
    });
  }

  private async api(path: string, init: RequestInit = {}): Promise<Response> {
    if (!this.token) {
      const r = await fetch(`${this.o.controlPlaneUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: this.o.username, password: this.o.password }),
      });
      if (!r.ok) throw new Error(`control plane login as ${this.o.username}: HTTP ${r.status}`);
      this.token = ((await r.json()) as { token: string }).token;
    }
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.token}`);
    const res = await fetch(`${this.o.controlPlaneUrl}${path}`, { ...init, headers });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: HTTP ${res.status} ${await res.text()}`);
    return res;
  }

  /** Extracts the dataset tar; entry names are checked before anything is written. */
  private async downloadDataset(datasetId: string, into: string) {
    const res = await this.api(`/api/v1/datasets/${datasetId}/export.tar`);
    await mkdir(into, { recursive: true });
    const ex = tar.extract();
    ex.on('entry', (h, stream, next) => {
      const rel = normalize(h.name);
      if (
        h.type !== 'file' ||
        rel.startsWith('..') ||
        rel.startsWith(sep) ||
        !/^[A-Za-z0-9._/-]+$/.test(h.name)
      ) {
        stream.resume();
        ex.destroy(new Error(`dataset archive: refused entry "${h.name}"`));
        return;
      }
      const to = join(into, rel);
      mkdir(dirname(to), { recursive: true })
        .then(() => pipeline(stream, createWriteStream(to)))
        .then(
          () => next(),
          (e) => ex.destroy(e),
        );
    });
    await pipeline(Readable.fromWeb(res.body as never), ex);
  }

  private async nextVersion(name: string): Promise<string> {
    const r = await this.pool.query(`SELECT version FROM model_versions WHERE name = $1`, [name]);
    const versions = r.rows
      .map((x: { version: string }) => x.version.split(/[.+-]/).slice(0, 3).map(Number))
      .filter((v: number[]) => v.every(Number.isInteger));
    if (!versions.length) return '1.0.0';
    versions.sort((a: number[], b: number[]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    const [ma, mi, pa] = versions.at(-1)!;
    return `${ma}.${mi}.${pa + 1}`;
  }

  private async register(tarPath: string): Promise<{ id: string }> {
    const fd = new FormData();
    fd.append('bundle', new Blob([await readFile(tarPath)]), 'bundle.tar');
    fd.append('description', 'trained by a trainer worker');
    const res = await this.api('/api/v1/models', { method: 'POST', body: fd });
    return (await res.json()) as { id: string };
  }

  /** Validation images of the exported dataset: test/good (normal) and test/defect. */
  private async validationImages(data: string): Promise<Array<{ path: string; defect: boolean }>> {
    const out: Array<{ path: string; defect: boolean }> = [];
    for (const cat of await readdir(data)) {
      for (const [sub, defect] of [
        ['good', false],
        ['defect', true],
      ] as const) {
        const d = join(data, cat, 'test', sub);
        const files = await readdir(d).catch(() => [] as string[]);
        for (const f of files.sort()) out.push({ path: join(d, f), defect });
      }
    }
    return out;
  }

  /** Scores every validation image with `diad inspect` (the same pipeline the agents run). */
  async measure(bundle: string, images: Array<{ path: string; defect: boolean }>): Promise<EvaluationReport> {
    const scores: number[] = [];
    const verdicts: string[] = [];
    const t0 = performance.now();
    const cli = join(this.o.repoRoot, 'packages/cli/dist/main.js');
    await this.tool(
      'measure',
      process.execPath,
      [cli, 'inspect', '--bundle', bundle, '--json', ...images.map((i) => i.path)],
      (l) => {
        if (!l.startsWith('{')) return;
        const r = JSON.parse(l) as { score: number; verdict: string };
        scores.push(r.score);
        verdicts.push(r.verdict);
      },
    );
    if (scores.length !== images.length)
      throw new Error(`diad inspect scored ${scores.length} of ${images.length} validation images`);
    const normals = images.filter((i) => !i.defect).length;
    const defects = images.length - normals;
    const falseAlarms = images.filter((im, k) => !im.defect && verdicts[k] === 'NOK').length;
    return {
      auroc:
        normals && defects
          ? auroc(
              scores,
              images.map((i) => (i.defect ? 1 : 0)),
            )
          : Number.NaN,
      falseAlarmRate: normals ? falseAlarms / normals : 0,
      missedDefects: images.filter((im, k) => im.defect && verdicts[k] === 'OK').length,
      normals,
      defects,
      msPerFrame: (performance.now() - t0) / Math.max(1, images.length),
    } as EvaluationReport;
  }

  private async evaluateAgainstCurrent(
    id: string,
    lineId: string,
    datasetId: string,
    data: string,
    bundle: string,
    candidateId: string,
  ) {
    const images = await this.validationImages(data);
    if (!images.some((i) => i.defect) || !images.some((i) => !i.defect)) {
      this.log('validation split lacks normal or defective images: no evaluation recorded', { id });
      return;
    }
    const post = async (mv: string, report: EvaluationReport) => {
      if (!Number.isFinite(report.auroc)) return;
      await this.api(`/api/v1/model-versions/${mv}/evaluations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ datasetId, report }),
      });
    };
    await post(candidateId, await this.measure(bundle, images));
    // The model it would replace: what the line's devices are told to run.
    const cur = await this.pool.query(
      `SELECT DISTINCT d.desired_model_version_id AS id, m.name, m.version
         FROM devices d JOIN stations s ON s.id = d.station_id JOIN model_versions m ON m.id = d.desired_model_version_id
        WHERE s.line_id = $1 AND d.desired_model_version_id IS NOT NULL AND d.desired_model_version_id <> $2`,
      [lineId, candidateId],
    );
    for (const m of cur.rows as Array<{ id: string; name: string; version: string }>) {
      const file = join(this.o.workDir, id, 'current', `${m.name}-${m.version}.tar`);
      await mkdir(dirname(file), { recursive: true });
      const res = await this.api(`/api/v1/models/${m.name}/versions/${m.version}/bundle`);
      await pipeline(Readable.fromWeb(res.body as never), createWriteStream(file));
      if ((await stat(file)).size === 0) throw new Error(`bundle of ${m.name}@${m.version} is empty`);
      await post(m.id, await this.measure(file, images));
    }
  }
}
