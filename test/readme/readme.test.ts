/**
 * Runs the commands the README documents, so it cannot drift from the code: every command in its set-up and
 * command blocks, tables and inline code that starts with npm, npx, node or python must have an entry in PLAN below
 * (and every entry must still be in the README). Cheap commands run as written; long ones in a short mode or with
 * --help, as each entry says. `npm run test:readme`; needs `npm run build` first (the set-up runs it too).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const TMP = mkdtempSync(join(tmpdir(), 'diad-readme-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** The commands the README shows (code blocks and inline code), comments stripped. */
function readmeCommands(text: string): string[] {
  const found = new Set<string>();
  const isCommand = (s: string) =>
    /^([A-Z_]+=(\$\([^)]*\)|\S+)\s+)*(npm|npx|node|\/usr\/bin\/python3|python3)\s/.test(s);
  for (const block of text.matchAll(/```(?:bash|sh)\n([\s\S]*?)```/g)) {
    for (const raw of block[1].split('\n')) {
      const line = raw.replace(/\s+#\s.*$/, '').trim();
      if (isCommand(line)) found.add(line);
    }
  }
  const prose = text.replace(/```[\s\S]*?```/g, '');
  for (const span of prose.matchAll(/`([^`\n]+)`/g)) {
    if (isCommand(span[1].trim())) found.add(span[1].trim());
  }
  return [...found];
}

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };

function start(
  cmd: string,
  extraEnv: Record<string, string> = {},
): { child: ChildProcess; done: Promise<Result> } {
  const child = spawn('bash', ['-c', cmd], { cwd: ROOT, env: { ...env, ...extraEnv }, detached: true });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (d) => out.push(d));
  child.stderr?.on('data', (d) => err.push(d));
  const done = new Promise<Result>((res) =>
    child.on('close', (code, signal) =>
      res({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    ),
  );
  (child as ChildProcess & { output: () => string }).output = () =>
    Buffer.concat(out).toString() + Buffer.concat(err).toString();
  return { child, done };
}

async function sh(cmd: string, timeoutMs: number, extraEnv: Record<string, string> = {}): Promise<Result> {
  const { child, done } = start(cmd, extraEnv);
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), timeoutMs);
  const r = await done;
  clearTimeout(timer);
  return r;
}

/** Starts a long-running command, waits until `ready` holds, then stops it with SIGINT and returns its result. */
async function runUntil(
  cmd: string,
  ready: () => Promise<boolean> | boolean,
  timeoutMs: number,
  extraEnv: Record<string, string> = {},
): Promise<Result & { ready: boolean }> {
  const { child, done } = start(cmd, extraEnv);
  let exited = false;
  void done.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  let ok = false;
  while (!exited && Date.now() < deadline) {
    if (await ready()) {
      ok = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!exited && child.pid) process.kill(-child.pid, 'SIGINT');
  const killer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 60_000);
  const r = await done;
  clearTimeout(killer);
  return { ...r, ready: ok };
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

const ok = (r: Result) => {
  expect(
    r.code,
    `exit code\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`,
  ).toBe(0);
  return r;
};
const MIN = 60_000;
const hasTorch = async () => (await sh('/usr/bin/python3 -c "import torch, onnx"', 60_000)).code === 0;
const synthDir = join(TMP, 'synth-easy');

type Plan = { why: string; run: () => Promise<void> };

/** Each README command, and how this test runs it. Order matters: later entries use what earlier ones made. */
const PLAN: Record<string, Plan> = {
  'npm ci': {
    why: 'not reinstalled here (the tree is installed); checks that every install script is reviewed in allowScripts',
    run: async () => {
      const r = ok(await sh('npm install-scripts ls', 2 * MIN));
      expect(r.stdout).toMatch(/No packages with unreviewed install scripts/);
      expect(r.stderr).not.toMatch(/npm warn (config|Unknown)/i);
    },
  },
  'npm run build': { why: 'as written', run: async () => void ok(await sh('npm run build', 10 * MIN)) },
  'npx diad --version && npx diad-agent --version && npx diad-control-plane --version': {
    why: 'as written',
    run: async () => {
      const r = ok(
        await sh(
          'npx diad --version && npx diad-agent --version && npx diad-control-plane --version',
          2 * MIN,
        ),
      );
      expect(r.stdout).toMatch(
        /^diad \d+\.\d+\.\d+\ndiad-agent \d+\.\d+\.\d+\ndiad-control-plane \d+\.\d+\.\d+\n$/,
      );
      expect(r.stderr).toBe('');
    },
  },
  'npm run demo -- --help': {
    why: 'as written',
    run: async () => void expect(ok(await sh('npm run demo -- --help', 2 * MIN)).stdout).toMatch(/--bundle/),
  },
  'npm run demo': {
    why: 'as written, in a temporary state folder (DIAD_DEMO_DATA); stopped with Ctrl-C once parts are inspected',
    run: async () => {
      let seen = '';
      const { child, done } = start('npm run demo', { DIAD_DEMO_DATA: join(TMP, 'demo') });
      child.stdout?.on('data', (d) => {
        seen += d;
      });
      const deadline = Date.now() + 8 * MIN;
      while (Date.now() < deadline && !/inspected [1-9]/.test(seen) && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 500));
      }
      if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGINT');
      const r = await done;
      expect(seen, r.stderr.slice(-3000)).toMatch(/inspected [1-9]/);
      expect([0, 130]).toContain(r.code ?? 130);
    },
  },
  'npm run demo -- --bundle /path/to/bundle --rate 5': {
    why: 'with a folder that is not a bundle: the demo must say so in one line, without a stack trace',
    run: async () => {
      const r = await sh(`npm run demo -- --bundle ${join(TMP, 'no-bundle')} --rate 5`, 3 * MIN, {
        DIAD_DEMO_DATA: join(TMP, 'demo-bad'),
      });
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/no-bundle/);
      expect(r.stdout + r.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
    },
  },
  'npm test': {
    why: 'the suite itself runs in CI; here only that the command starts vitest with the project config',
    run: async () => void ok(await sh('npm test -- --passWithNoTests no-such-test-file', 3 * MIN)),
  },
  'npm run lint': { why: 'as written', run: async () => void ok(await sh('npm run lint', 5 * MIN)) },
  'npm run licenses': {
    why: 'as written',
    run: async () =>
      void expect(ok(await sh('npm run licenses', MIN)).stdout).toMatch(/compatible with Apache/),
  },
  'npm run test:readme': { why: 'this test', run: async () => {} },
  'npm rebuild onnxruntime-node --allow-scripts=onnxruntime-node': {
    why: 'not run (it downloads the CUDA libraries from NuGet); checks that this npm knows the allow-scripts setting',
    run: async () => {
      const r = ok(await sh('npm config get allow-scripts', MIN));
      expect(r.stderr).not.toMatch(/Unknown/);
    },
  },
  'npx diad synth --out /tmp/synth/easy --seed 1 --tier easy': {
    why: 'short mode: one category, 4 train and 4 test images (into a temporary folder)',
    run: async () => {
      const r = ok(
        await sh(
          `npx diad synth --out ${synthDir} --seed 1 --tier easy --categories fabric --train 4 --test 4 --size 128`,
          5 * MIN,
        ),
      );
      expect(r.stdout + r.stderr).toMatch(/wrote \d+ files for 1 categories/);
    },
  },
  'npx diad inspect --bundle models/diad-synth-tiny img.png': {
    why: 'as written, on one of the synthetic images',
    run: async () => {
      const dir = join(synthDir, 'fabric', 'test', 'good');
      const img = join(dir, readdirSync(dir).find((f) => f.endsWith('.png'))!);
      const r = ok(await sh(`npx diad inspect --bundle models/diad-synth-tiny ${img}`, 5 * MIN));
      expect(r.stdout).toMatch(/"score"/);
    },
  },
  'npx diad eval --bundle models/diad-synth-tiny --dataset /tmp/synth/easy --out /tmp/report': {
    why: 'short mode: --limit 2 on the short synthetic set',
    run: async () => {
      const out = join(TMP, 'report');
      ok(
        await sh(
          `npx diad eval --bundle models/diad-synth-tiny --dataset ${synthDir} --out ${out} --limit 2 --methods diad`,
          10 * MIN,
        ),
      );
      expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/fabric/);
    },
  },
  'npx tsx --conditions=@diad/source packages/cli/src/main.ts <command> ...': {
    why: 'with --version and synth --help',
    run: async () => {
      const cmd = 'npx tsx --conditions=@diad/source packages/cli/src/main.ts';
      expect(ok(await sh(`${cmd} --version`, 2 * MIN)).stdout).toMatch(/^diad \d/);
      expect(ok(await sh(`${cmd} synth --help`, 2 * MIN)).stdout).toMatch(/--seed/);
    },
  },
  'npx diad-agent run --config deploy/agent.example.yaml': {
    why: 'check (validates the same file) and run --help: running it needs the control plane and a camera',
    run: async () => {
      ok(await sh('npx diad-agent check --config deploy/agent.example.yaml', 2 * MIN));
      expect(
        ok(await sh('npx diad-agent run --config deploy/agent.example.yaml --help', 2 * MIN)).stdout,
      ).toMatch(/Usage: diad-agent/);
    },
  },
  'JWT_SECRET=$(openssl rand -hex 32) DIAD_ADMIN_PASSWORD=change-me-now npx diad-control-plane': {
    why: 'as written, on an in-memory database and a free port; stopped once /healthz answers',
    run: async () => {
      const port = await freePort();
      const r = await runUntil(
        'JWT_SECRET=$(openssl rand -hex 32) DIAD_ADMIN_PASSWORD=change-me-now npx diad-control-plane',
        async () => {
          try {
            return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
          } catch {
            return false;
          }
        },
        5 * MIN,
        { PORT: String(port), DATA_DIR: 'memory://', BLOB_DIR: join(TMP, 'blobs'), LOG_LEVEL: 'warn' },
      );
      expect(r.ready, r.stderr.slice(-3000)).toBe(true);
      // Ctrl-C reaches the whole process group (bash, npm exec, the server): a clean stop, no stack trace.
      expect(r.code === 0 || r.code === 130 || r.signal === 'SIGINT', `${r.code} ${r.signal}`).toBe(true);
      expect(r.stderr).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/);
    },
  },
  '/usr/bin/python3 -m tools.diad.train --help': {
    why: 'as written (needs Debian python3-torch; CI installs it)',
    run: async () => {
      if (!(await hasTorch())) return console.warn('skipped: /usr/bin/python3 has no torch/onnx');
      expect(ok(await sh('/usr/bin/python3 -m tools.diad.train --help', 2 * MIN)).stdout).toMatch(/--data/);
    },
  },
  '/usr/bin/python3 -m tools.diad.export --help': {
    why: 'as written (needs Debian python3-torch; CI installs it)',
    run: async () => {
      if (!(await hasTorch())) return console.warn('skipped: /usr/bin/python3 has no torch/onnx');
      expect(ok(await sh('/usr/bin/python3 -m tools.diad.export --help', 2 * MIN)).stdout).toMatch(/--out/);
    },
  },
  'npm run bench:metrics': {
    why: 'short mode: 8 maps of 64²',
    run: async () => void ok(await sh('npm run bench:metrics -- --images 8 --size 64', 3 * MIN)),
  },
  'npm run bench:pipeline': {
    why: 'short mode: 2 images, batch 1',
    run: async () => void ok(await sh('npm run bench:pipeline -- --images 2 --batch 1', 5 * MIN)),
  },
  'npm run bench:control-plane': {
    why: 'short mode: 2000 rows, 1 s per phase, own database (needs PostgreSQL: DATABASE_URL, as in CI)',
    run: async () => {
      const url = process.env.DATABASE_URL;
      if (!url)
        return console.warn('skipped: DATABASE_URL is not set (bench:control-plane needs PostgreSQL)');
      const u = new URL(url);
      u.pathname = '/diad_readme_bench';
      const env = { BENCH_DATABASE_URL: u.toString(), BENCH_ROWS: '2000', BENCH_SECONDS: '1' };
      try {
        let r = await sh('npm run bench:control-plane', 8 * MIN, env);
        // The benchmark's HTTP senders have been seen to get ECONNRESET on a heavily loaded machine: one retry.
        if (r.code !== 0 && /ECONNRESET/.test(r.stderr))
          r = await sh('npm run bench:control-plane', 8 * MIN, env);
        expect(ok(r).stdout).toMatch(/HTTP ingestion: /);
      } finally {
        const admin = new URL(url);
        admin.pathname = '/postgres';
        await sh(`psql "${admin}" -c "DROP DATABASE IF EXISTS diad_readme_bench WITH (FORCE)"`, MIN);
      }
    },
  },
  'npm run bench:ingest-lag': {
    why: 'short mode: 100 results/s for 2 s (needs PostgreSQL: DATABASE_URL, and mosquitto, as in CI)',
    run: async () => {
      if (!process.env.DATABASE_URL)
        return console.warn('skipped: DATABASE_URL is not set (bench:ingest-lag)');
      if ((await sh('command -v mosquitto || test -x /usr/sbin/mosquitto', MIN)).code !== 0) {
        return console.warn('skipped: no mosquitto binary (bench:ingest-lag)');
      }
      ok(await sh('npm run bench:ingest-lag -- --rate 100 --seconds 2 --warmup 1', 8 * MIN));
    },
  },
  'npm run test:ingest-faults': {
    why: 'a long suite that CI runs as its own step (npm run test:ingest-faults); not repeated here',
    run: async () => {},
  },
  'npm run test:scale': {
    why: 'a long suite that CI runs as its own step; not repeated here',
    run: async () => {},
  },
  'npm run test:lifecycle': {
    why: 'a long suite that CI runs as its own step; not repeated here',
    run: async () => {},
  },
  'npm run test:deploy': {
    why: 'a long suite that CI runs as its own step (image builds); not repeated here',
    run: async () => {},
  },
  'npm run bench:system': {
    why: 'short mode: 3 frames',
    run: async () => void ok(await sh('npm run bench:system -- --frames 3 --rate 2', 8 * MIN)),
  },
  'npm run bench:system -- [--bundle <dir>] [--frames 60] [--rate 2]': {
    why: 'the same command as bench:system above, which runs it with --frames 3 --rate 2',
    run: async () => {},
  },
  'npx tsx --conditions=@diad/source bench/agent.ts': {
    why: 'short mode: 50 frames, 200 results',
    run: async () =>
      void ok(
        await sh('npx tsx --conditions=@diad/source bench/agent.ts --frames 50 --results 200', 5 * MIN),
      ),
  },
  'npx tsc -p test/system/tsconfig.json': {
    why: 'as written',
    run: async () => void ok(await sh('npx tsc -p test/system/tsconfig.json', 8 * MIN)),
  },
};

describe('README commands', () => {
  const commands = readmeCommands(README);

  it('has a plan for every command in the README, and no plan for a command it no longer shows', () => {
    expect(
      commands.filter((c) => !(c in PLAN)),
      'README commands without an entry in PLAN',
    ).toEqual([]);
    expect(
      Object.keys(PLAN).filter((c) => !commands.includes(c)),
      'PLAN entries not in the README',
    ).toEqual([]);
  });

  for (const [command, plan] of Object.entries(PLAN)) {
    it(`${command}  (${plan.why})`, plan.run);
  }
});
