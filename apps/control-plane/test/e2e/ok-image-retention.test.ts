import { existsSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OkImageRetention } from '../../src/lifecycle/ok-image-retention.js';
import { ScriptedAgent } from '../helpers/agent.js';
import {
  BACKENDS,
  type Client,
  client,
  type Harness,
  login,
  makeFleet,
  startHarness,
} from '../helpers/harness.js';

const png = (v: number) =>
  sharp({ create: { width: 16, height: 16, channels: 3, background: { r: v, g: v, b: 0 } } })
    .png()
    .toBuffer();
const MIN = 60_000;
const DAY = 86_400_000;

describe.each(BACKENDS)(
  'retention of uploaded OK-sample images on the control plane on $name',
  ({ name }) => {
    let h: Harness;
    let admin: Client;
    const ids: Record<string, string> = {};
    const bytes: Record<string, number> = {};
    let lineId = '';

    const stored = async (key: string) =>
      (await admin.get(`/api/v1/results/${ids[key]}/image`)).status === 200;

    beforeAll(async () => {
      // Two images per station, 30 days; the sweep runs on its own every 300 ms.
      h = await startHarness(name, {
        okImageMaxPerStation: 2,
        okImageMaxBytesPerStation: 0,
        okImageRetentionDays: 30,
        okImageSweepMs: 300,
      });
      admin = client(h.cp.url, await login(h.cp.url));
      const fleet = await makeFleet(admin, ['st1', 'st2']);
      lineId = fleet.line.id;
      const agents: ScriptedAgent[] = [];
      for (const [i, st] of fleet.stations.entries()) {
        const t = await admin.post('/api/v1/enrolment-tokens', { stationId: st.id });
        const a = new ScriptedAgent(h.cp.url);
        await a.enrol(t.body.token, `edge-ret-${i}`);
        agents.push(a);
      }
      const now = Date.now();
      const spec: Array<[string, number, 'OK' | 'NOK', number]> = [
        ['ok1', 0, 'OK', 1 * MIN],
        ['ok2', 0, 'OK', 2 * MIN],
        ['ok3', 0, 'OK', 3 * MIN],
        ['labelled', 0, 'OK', 4 * MIN],
        ['inDataset', 0, 'OK', 5 * MIN],
        ['old', 0, 'OK', 40 * DAY],
        ['oldNok', 0, 'NOK', 50 * DAY],
        ['otherStation', 1, 'OK', 6 * MIN],
      ];
      const byAgent = new Map<ScriptedAgent, ReturnType<ScriptedAgent['result']>[]>();
      for (const [key, a, verdict, age] of spec) {
        const at = new Date(now - age).toISOString();
        const r = agents[a].result({ verdict, capturedAt: at, inspectedAt: at });
        ids[key] = r.resultId;
        byAgent.set(agents[a], [...(byAgent.get(agents[a]) ?? []), r]);
      }
      for (const [a, rs] of byAgent) expect((await a.postResults(rs)).status).toBe(200);
      const upload = async (key: string, v: number) => {
        const a = spec.find((s) => s[0] === key)![1];
        const up = await agents[a].api.put(
          `/api/v1/agent/results/${ids[key]}/image`,
          await png(v),
          'image/png',
        );
        expect(up.status).toBeLessThan(300);
        bytes[key] = up.body.bytes;
      };
      // The evidence first (two images: within the bound, so a sweep now removes nothing), then make it evidence.
      await upload('labelled', 40);
      await upload('inDataset', 50);
      expect(
        (await admin.post(`/api/v1/results/${ids.labelled}/labels`, { label: 'confirmed_ok' })).status,
      ).toBe(201);
      const at = new Date(now - 5 * MIN);
      const frozen = await admin.post(`/api/v1/lines/${fleet.line.id}/datasets`, {
        name: 'pinned',
        from: at.toISOString(),
        to: new Date(at.getTime() + 1).toISOString(),
      });
      expect(frozen.status, JSON.stringify(frozen.body)).toBe(201);
      expect(frozen.body.counts.train).toBe(1);
      for (const [i, key] of ['ok1', 'ok2', 'ok3', 'old', 'oldNok', 'otherStation'].entries())
        await upload(key, 100 + i);
    });
    afterAll(async () => {
      await h?.close();
    });

    it('sweeps on schedule beyond the count and the age per station, keeping evidence and NOK images', async () => {
      const deadline = Date.now() + 15_000;
      while ((await stored('ok3')) || (await stored('old'))) {
        if (Date.now() > deadline)
          throw new Error('the scheduled sweep did not remove ok3 and old within 15 s');
        await new Promise((r) => setTimeout(r, 200));
      }
      const state: Record<string, boolean> = {};
      for (const key of Object.keys(ids)) state[key] = await stored(key);
      expect(state).toEqual({
        ok1: true,
        ok2: true,
        ok3: false, // third newest unpinned OK image of st1
        labelled: true,
        inDataset: true,
        old: false, // older than 30 days
        oldNok: true, // NOK images are not OK samples
        otherStation: true, // st2 has its own bound
      });
      // The blob itself is gone, not only its row.
      expect(existsSync(join(h.blobDir, 'results', ids.ok3.slice(0, 8), `${ids.ok3}.image`))).toBe(false);
      expect(existsSync(join(h.blobDir, 'results', ids.ok1.slice(0, 8), `${ids.ok1}.image`))).toBe(true);
      const metrics = (await client(h.cp.url).get('/metrics')).body as string;
      expect(metrics).toContain('diad_ok_images_swept_total{reason="age"} 1');
      expect(metrics).toContain('diad_ok_images_swept_total{reason="count"} 1');
      expect(metrics).toContain(`diad_ok_image_bytes_swept_total ${bytes.ok3 + bytes.old}`);
      expect(metrics).toMatch(/diad_ok_image_sweep_timestamp_seconds \d{10}/);
      // The frozen dataset still exports (its image was kept).
      const ds = (await admin.get(`/api/v1/lines/${lineId}/datasets`)).body;
      const res = await fetch(`${h.cp.url}/api/v1/datasets/${ds[0].id}/export.tar`, {
        headers: { authorization: `Bearer ${await login(h.cp.url)}` },
      });
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
    });

    it('bounds the bytes per station, newest first', async () => {
      const report = await h.cp.get(OkImageRetention).sweep({
        maxPerStation: 0,
        maxBytesPerStation: bytes.ok1,
        maxAgeDays: 0,
      });
      expect(report).toEqual({ removed: 1, bytes: bytes.ok2, byReason: { age: 0, count: 0, bytes: 1 } });
      expect(await stored('ok1')).toBe(true);
      expect(await stored('ok2')).toBe(false);
      expect(await stored('otherStation')).toBe(true);
    });
  },
);
