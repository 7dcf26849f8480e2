/**
 * Ingestion fault test (`npm run test:ingest-faults`): results published at QoS 1 (or posted over HTTP) while the
 * control plane is SIGKILLed and restarted after 1 s, or while the broker restarts, with one and two replicas, at
 * 500 and 2,000 results/s. Each cell counts, by result id, what the broker (or the API) acknowledged and checks
 * the rows in PostgreSQL: 0 lost and 0 duplicate rows, or the script exits 1.
 *
 * Needs mosquitto (Debian `mosquitto`) and PostgreSQL (DATABASE_URL, default postgresql://postgres@127.0.0.1/postgres;
 * a database is created per cell and dropped). FAULT_SECONDS (default 10) sets how long each cell publishes;
 * FAULT_CELLS (e.g. "kill-1-500,http-kill") picks cells.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Broker,
  ControlPlaneProcess,
  drive,
  enrolDevice,
  freePort,
  HttpPublisher,
  MqttPublisher,
  mosquittoBinary,
  privateDatabase,
  sleep,
  storedIds,
  type Tally,
  topics,
  until,
} from './lab.js';

interface Cell {
  name: string;
  fault: 'kill' | 'broker' | 'none';
  transport: 'mqtt' | 'http';
  replicas: 1 | 2;
  rate: number;
}

const CELLS: Cell[] = [];
for (const fault of ['kill', 'broker'] as const)
  for (const replicas of [1, 2] as const)
    for (const rate of [500, 2000])
      CELLS.push({ name: `${fault}-${replicas}-${rate}`, fault, transport: 'mqtt', replicas, rate });
CELLS.push({ name: 'http-kill', fault: 'kill', transport: 'http', replicas: 1, rate: 500 });

const SECONDS = Number(process.env.FAULT_SECONDS ?? 10);
const pick = process.env.FAULT_CELLS?.split(',').filter(Boolean);

interface Outcome {
  cell: Cell;
  published: number;
  acked: number;
  rows: number;
  lost: number;
  duplicates: number;
  unknown: number;
  noSubscribers: number;
  republished: number;
  seconds: number;
  note?: string;
  error?: string;
}

async function runCell(cell: Cell): Promise<Outcome> {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `diad-faults-${cell.name}-`));
  const db = await privateDatabase('diad_i14_faults');
  const broker = cell.transport === 'mqtt' ? new Broker(join(dir, 'broker'), await freePort()) : null;
  const cps: ControlPlaneProcess[] = [];
  let tally: Tally | null = null;
  try {
    await broker?.start();
    for (let i = 0; i < cell.replicas; i++) {
      const env: Record<string, string> = {
        DATABASE_URL: db.url,
        BLOB_DIR: join(dir, `blobs${i}`),
        INGEST_STALL_SECONDS: '0',
      };
      if (broker)
        Object.assign(env, {
          MQTT_URL: broker.url,
          MQTT_GROUP: 'faults',
          MQTT_CLIENT_ID: `faults-cp-${i}`,
          MQTT_PROBE_MS: '2000',
          MQTT_RECONNECT_MS: '250',
        });
      cps.push(new ControlPlaneProcess(`cp${i}`, await freePort(), env, dir));
    }
    for (const cp of cps) await cp.start();
    const device = await enrolDevice(cps[0].url);
    // The fault hits replica 0 (or the broker) a third of the way in; with two replicas the other keeps going.
    let faultNote = '';
    const fault = async () => {
      const f0 = Date.now();
      if (cell.fault === 'kill') {
        await cps[0].kill();
        await sleep(1000);
        await cps[0].start();
      } else if (cell.fault === 'broker' && broker) {
        await broker.stop();
        await broker.start();
      }
      faultNote = `${cell.fault} at ${((f0 - tPub) / 1000).toFixed(1)} s, back after ${((Date.now() - f0) / 1000).toFixed(1)} s`;
    };
    const tPub = Date.now();
    let drain: () => number;
    let close: () => Promise<void>;
    if (broker) {
      const pub = new MqttPublisher(broker.url, topics.result(device.address));
      await pub.connect();
      tally = pub.tally;
      await drive(cell.rate, SECONDS, device, (r) => pub.publish(r), {
        t: SECONDS / 3,
        run: fault,
      });
      drain = () => pub.pending;
      close = () => pub.close();
    } else {
      const pub = new HttpPublisher(() => cps.map((c) => c.url), device.credential);
      pub.start();
      tally = pub.tally;
      await drive(cell.rate, SECONDS, device, (r) => pub.publish(r), {
        t: SECONDS / 3,
        run: fault,
      });
      drain = () => pub.pending;
      close = () => pub.close();
    }
    // Everything published must be acknowledged (the publisher retries like an agent's outbox).
    await until(() => drain() === 0, 90_000, 'every result acknowledged');
    await close();
    const acked = tally.acked;
    let stored = await storedIds(db.url);
    const missing = () => [...acked].filter((id) => !stored.ids.has(id)).length;
    // Rows may lag the acknowledgements (a restarted replica works through the broker's backlog, slowly on a busy
    // machine): wait while the stored count still grows; a result counts as lost only once nothing has been
    // stored for 30 s.
    let lastRows = stored.rows;
    let lastProgress = Date.now();
    while (missing() > 0 && Date.now() - lastProgress < 30_000) {
      await sleep(500);
      stored = await storedIds(db.url);
      if (stored.rows > lastRows) {
        lastRows = stored.rows;
        lastProgress = Date.now();
      }
    }
    const unknown = [...stored.ids].filter((id) => !tally!.published.has(id)).length;
    return {
      cell,
      published: tally.published.size,
      acked: acked.size,
      rows: stored.rows,
      lost: missing(),
      duplicates: stored.rows - stored.ids.size,
      unknown,
      noSubscribers: tally.noSubscribers,
      republished: tally.republished,
      seconds: (Date.now() - t0) / 1000,
      note: faultNote,
    };
  } catch (e) {
    return {
      cell,
      published: tally?.published.size ?? 0,
      acked: tally?.acked.size ?? 0,
      rows: 0,
      lost: -1,
      duplicates: -1,
      unknown: -1,
      noSubscribers: tally?.noSubscribers ?? 0,
      republished: tally?.republished ?? 0,
      seconds: (Date.now() - t0) / 1000,
      error: `${(e as Error).message}\n${cps.map((c) => `--- ${c.name}\n${c.tail()}`).join('\n')}`,
    };
  } finally {
    for (const cp of cps) await cp.stop().catch(() => {});
    await broker?.stop().catch(() => {});
    await db.drop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  if (!mosquittoBinary()) {
    console.error('ingest-faults: mosquitto is not installed (apt-get install -y mosquitto)');
    process.exit(1);
  }
  const cells = CELLS.filter((c) => !pick || pick.includes(c.name));
  console.log(`ingest-faults: ${cells.length} cells, ${SECONDS} s of publishing each`);
  const outcomes: Outcome[] = [];
  for (const cell of cells) {
    const o = await runCell(cell);
    outcomes.push(o);
    const ok = !o.error && o.lost === 0 && o.duplicates === 0 && o.unknown === 0;
    console.log(
      `${ok ? 'ok  ' : 'FAIL'} ${cell.name.padEnd(16)} published ${o.published} acked ${o.acked} rows ${o.rows} ` +
        `lost ${o.lost} duplicate rows ${o.duplicates} unknown rows ${o.unknown} ` +
        `(0x10 no-subscriber acks ${o.noSubscribers}, republished ${o.republished}; ${o.note ?? ''}) ${o.seconds.toFixed(1)} s`,
    );
    if (o.error) console.log(o.error);
  }
  const failed = outcomes.filter((o) => o.error || o.lost !== 0 || o.duplicates !== 0 || o.unknown !== 0);
  console.log(
    failed.length ? `ingest-faults: ${failed.length} cell(s) failed` : 'ingest-faults: all cells passed',
  );
  process.exit(failed.length ? 1 : 0);
}

await main();
