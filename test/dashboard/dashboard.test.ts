import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, openBrowser } from './browser.js';
import { makeResult, USERS } from './seed.js';
import { CHROMIUM, HAS_CHROMIUM, type Stack, startStack } from './stack.js';

/** Set DIAD_SCREENSHOTS=docs/screenshots to (re)write the screenshots of the main views while the tests run. */
const SHOTS = process.env.DIAD_SCREENSHOTS;

if (!HAS_CHROMIUM) {
  console.warn(
    `dashboard e2e tests skipped: ${CHROMIUM} not found (apt-get install -y chromium; .ci/run does)`,
  );
}

describe.skipIf(!HAS_CHROMIUM)('dashboard in a real browser against the control plane', () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    stack = await startStack();
    browser = await openBrowser();
    page = browser.page;
    // Generous: the whole suite may run beside this file on two busy cores.
    page.setDefaultTimeout(20_000);
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  const shot = async (name: string) => {
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  };

  async function signInAs(who: { username: string; password: string }) {
    await page.goto(`${stack.url}/history`);
    await page.waitForURL(/\/signin/);
    await page.getByLabel('Username').fill(who.username);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/history/);
  }

  async function signOut() {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin/);
  }

  /** The number of rows of the history table once it has loaded. */
  async function historyRows(): Promise<string[][]> {
    await page
      .getByRole('status')
      .filter({ hasText: /Showing|No results/ })
      .waitFor();
    return page.$$eval('table.history tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
  }

  it('is served by the control plane at / with client routes, leaving the API, docs and health alone', async () => {
    const html = await fetch(`${stack.url}/results/anything`, { headers: { accept: 'text/html' } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await html.text()).toContain('<div id="app">');
    const api = await fetch(`${stack.url}/api/v1/nothing-here`, { headers: { accept: 'text/html' } });
    expect(api.status).toBe(404);
    expect(api.headers.get('content-type')).toContain('application/json');
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${stack.url}/docs/openapi.json`)).headers.get('content-type')).toContain('json');
  });

  it('refuses a wrong password, then signs in and shows today’s counts', async () => {
    await page.goto(`${stack.url}/`);
    await page.waitForURL(/\/signin/);
    await shot('01-sign-in');
    await page.getByLabel('Username').fill(USERS.supervisor.username);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/invalid username or password/);
    await page.getByLabel('Password').fill(USERS.supervisor.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/history/);
    await expect(page.locator('.user').textContent()).resolves.toBe('sam (supervisor)');

    // The big counters equal what the API reports for today.
    const day = new Date();
    day.setHours(0, 0, 0, 0);
    const expected = await page.evaluate(async (from) => {
      const token = JSON.parse(localStorage.getItem('diad.session') ?? '{}').token;
      const r = await fetch(
        `/api/v1/results/aggregates?bucket=none&groupBy=none&from=${encodeURIComponent(from)}`,
        {
          headers: { authorization: `Bearer ${token}` },
        },
      );
      const body = await r.json();
      return body.series.reduce(
        (a: { ok: number; nok: number }, p: { ok: number; nok: number }) => ({
          ok: a.ok + p.ok,
          nok: a.nok + p.nok,
        }),
        {
          ok: 0,
          nok: 0,
        },
      );
    }, day.toISOString());
    expect(expected.ok + expected.nok).toBeGreaterThan(0);
    await page.waitForFunction(() => document.querySelector('[data-testid="count-ok"]')?.textContent !== '—');
    const num = async (id: string) => Number((await page.getByTestId(id).textContent())!.replace(/\D/g, ''));
    expect(await num('count-ok')).toBe(expected.ok);
    expect(await num('count-nok')).toBe(expected.nok);
    await page.getByTestId('live-state').filter({ hasText: 'Live' }).waitFor();

    // Keyboard: on a freshly loaded page the first Tab reaches the skip link, which moves focus to the content.
    await page.reload();
    await page.locator('table.history').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
  });

  it('filters the defect history by line, verdict and score, and pages on', async () => {
    await page.goto(`${stack.url}/history`);
    const all = await historyRows();
    expect(all).toHaveLength(50);
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.waitForFunction(() => document.querySelectorAll('table.history tbody tr').length > 50);
    expect((await historyRows()).length).toBe(100);

    await page.getByLabel('Line', { exact: true }).selectOption('L1');
    await page.getByLabel('Verdict').selectOption('NOK');
    await page.getByLabel('Min score').fill('0.6');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/line=L1/);
    expect(new URL(page.url()).searchParams.get('verdict')).toBe('NOK');
    const rows = await historyRows();
    expect(rows.length).toBeGreaterThan(0);
    for (const [, lineStation, , verdict, score] of rows) {
      expect(lineStation).toMatch(/^L1 · /);
      expect(verdict).toBe('NOK');
      expect(Number(score)).toBeGreaterThanOrEqual(0.6);
    }
    // Same count as the API gives for the same filter.
    const api = await page.evaluate(async () => {
      const token = JSON.parse(localStorage.getItem('diad.session') ?? '{}').token;
      const r = await fetch('/api/v1/results?line=L1&verdict=NOK&minScore=0.6&limit=1000', {
        headers: { authorization: `Bearer ${token}` },
      });
      return (await r.json()).items.length as number;
    });
    expect(rows.length).toBe(Math.min(api, 50));
    expect(rows.some((r) => r[2] === stack.seeded.defect.partId)).toBe(true);
    await shot('02-history-filtered');

    // Filters survive a reload (they live in the URL).
    await page.reload();
    await expect(page.getByLabel('Verdict').inputValue()).resolves.toBe('NOK');
    expect((await historyRows()).length).toBe(rows.length);

    // Time range and model version: the last 3 hours of 1.1.0 on every line, OK and NOK.
    await page.getByRole('link', { name: 'Clear' }).click();
    await page.waitForURL((u) => u.search === '');
    const from = new Date(Date.now() - 3 * 3600_000);
    const local = (d: Date) =>
      `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}T${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    await page.getByLabel('From').fill(local(from));
    await page.getByLabel('Model version').selectOption('diad-housing@1.1.0');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/model=/);
    const recent = await historyRows();
    expect(recent.length).toBeGreaterThan(3);
    for (const r of recent) expect(r[6]).toBe('diad-housing@1.1.0');
    const fromIso = new URL(page.url()).searchParams.get('from')!;
    expect(Math.abs(Date.parse(fromIso) - from.getTime())).toBeLessThan(60_000);
    const expected = await page.evaluate(async (f) => {
      const token = JSON.parse(localStorage.getItem('diad.session') ?? '{}').token;
      const q = new URLSearchParams({
        from: f,
        modelName: 'diad-housing',
        modelVersion: '1.1.0',
        limit: '1000',
      });
      const r = await fetch(`/api/v1/results?${q}`, { headers: { authorization: `Bearer ${token}` } });
      return (await r.json()).items.length as number;
    }, fromIso);
    expect(recent.length).toBe(Math.min(expected, 50));
  });

  it('opens a result and shows its image with the heatmap overlay, and the score against the threshold', async () => {
    await page.getByRole('link', { name: stack.seeded.defect.partId }).click();
    await page.waitForURL(new RegExp(`/results/${stack.seeded.defect.resultId}`));
    const heatmap = page.getByTestId('heatmap');
    await heatmap.waitFor();
    await page.waitForFunction(() => {
      const imgs = [...document.querySelectorAll<HTMLImageElement>('.image-stage img')];
      return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth === 320);
    });
    expect(await page.getByTestId('result-verdict').textContent()).toBe('NOK');
    expect(await page.getByTestId('score-line').textContent()).toMatch(
      /Score 0\.731 against threshold 0\.500.*46\.2 % above threshold/,
    );
    expect(await heatmap.isVisible()).toBe(true);
    await shot('03-result-heatmap');

    const toggle = page.getByRole('button', { name: /Heatmap overlay/ });
    expect(await toggle.getAttribute('aria-pressed')).toBe('true');
    await toggle.focus();
    await page.keyboard.press('Enter');
    expect(await toggle.getAttribute('aria-pressed')).toBe('false');
    expect(await heatmap.isVisible()).toBe(false);
    await page.keyboard.press('Space');
    expect(await heatmap.isVisible()).toBe(true);
  });

  it('shows a new result as it arrives, without a reload', async () => {
    await page.getByRole('link', { name: '← Back to history' }).click();
    await page.goto(`${stack.url}/history`);
    await historyRows();
    await page.getByTestId('live-state').filter({ hasText: 'Live' }).waitFor();
    const nokBefore = Number((await page.getByTestId('count-nok').textContent())!.replace(/\D/g, ''));
    const a = stack.seeded.agents.l2a;
    const fresh = makeResult(a, {
      at: new Date(),
      score: 0.912,
      threshold: 0.48,
      model: stack.seeded.models.v1,
      partId: 'LIVE-0001',
    });
    await a.http.post('/api/v1/agent/results', { results: [fresh] });
    const row = page.locator('table.history tbody tr').first();
    await page.locator('tr.new', { hasText: 'LIVE-0001' }).waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain('LIVE-0001');
    await page.waitForFunction(
      (n) =>
        Number(document.querySelector('[data-testid="count-nok"]')?.textContent?.replace(/\D/g, '')) ===
        n + 1,
      nokBefore,
    );
  });

  it('shows each line’s counts for today in very large type on the floor board, updated live', async () => {
    await page.getByRole('link', { name: 'Lines today' }).click();
    await page.waitForURL(/\/floor/);
    const num = async (id: string) => Number((await page.getByTestId(id).textContent())!.replace(/\D/g, ''));
    await page.waitForFunction(() =>
      /\d/.test(document.querySelector('[data-testid="floor-nok-L2"]')?.textContent ?? ''),
    );
    const expected = await page.evaluate(async () => {
      const token = JSON.parse(localStorage.getItem('diad.session') ?? '{}').token;
      const from = new Date();
      from.setHours(0, 0, 0, 0);
      const q = new URLSearchParams({
        line: 'L2',
        bucket: 'none',
        groupBy: 'none',
        from: from.toISOString(),
      });
      const r = await fetch(`/api/v1/results/aggregates?${q}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const s = (await r.json()).series as Array<{ ok: number; nok: number }>;
      return { ok: s.reduce((n, p) => n + p.ok, 0), nok: s.reduce((n, p) => n + p.nok, 0) };
    });
    expect(await num('floor-ok-L2')).toBe(expected.ok);
    expect(await num('floor-nok-L2')).toBe(expected.nok);
    const fontPx = await page
      .getByTestId('floor-nok-L2')
      .evaluate((e) => Number.parseFloat(getComputedStyle(e).fontSize));
    expect(fontPx).toBeGreaterThanOrEqual(80);
    await shot('00-floor');

    const a = stack.seeded.agents.l2a;
    const r = makeResult(a, {
      at: new Date(),
      score: 0.95,
      threshold: 0.48,
      model: stack.seeded.models.v1,
      partId: 'LIVE-0002',
    });
    await a.http.post('/api/v1/agent/results', { results: [r] });
    await page.waitForFunction(
      (n) =>
        Number(document.querySelector('[data-testid="floor-nok-L2"]')?.textContent?.replace(/\D/g, '')) ===
        n + 1,
      expected.nok,
    );
    expect(
      await page.locator('article', { hasText: 'Line 2 covers' }).locator('.floor-last').textContent(),
    ).toMatch(/Last part: LIVE-0002 NOK at st1/);
    expect(await num('floor-ok-L1')).toBeGreaterThan(0);
  });

  it('draws NOK-rate trends per line and model version, and the fleet', async () => {
    await page.getByRole('link', { name: 'Trends' }).click();
    await page.waitForURL(/\/trends/);
    await page.locator('article.trend svg.chart').first().waitFor();
    const l1 = page.locator('article.trend', { hasText: 'Line 1 housings' });
    expect(await l1.locator('svg.chart path.series').count()).toBe(2);
    expect(await l1.locator('.legend').textContent()).toMatch(/diad-housing@1\.0\.0.*diad-housing@1\.1\.0/);
    await shot('04-trends');
    await page.getByLabel('Buckets').selectOption('shift');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/bucket=shift/);
    await page.locator('article.trend svg.chart').first().waitFor();

    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.locator('table.fleet').waitFor();
    const row = (name: string) => page.locator(`table.fleet tr[data-device="${name}"]`);
    expect(await row('edge-l1-a').textContent()).toMatch(/Online.*cuda/);
    expect(await row('edge-l2-a').textContent()).toMatch(/Offline/);
    expect(await row('edge-l1-b').locator('td').nth(5).textContent()).toBe('37');
    // Results the control plane refused for good, set aside on the device: the count and the newest reason.
    const aside = row('edge-l1-b').locator('[data-testid="set-aside"]');
    expect(await aside.textContent()).toMatch(/^3422 result: partId: expected no control characters/);
    expect(await aside.getAttribute('title')).toMatch(/partId/);
    expect(await row('edge-l1-a').locator('[data-testid="set-aside"]').textContent()).toBe('—');
    expect(await row('edge-l1-a').locator('[data-testid="plc"]').textContent()).toBe('OPC UA up S7 down (4)');
    await shot('05-fleet');
  });

  it('sends an expired or revoked session back to sign-in, then returns to the page asked for', async () => {
    const saved = await page.evaluate(() => localStorage.getItem('diad.session'));
    await page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('diad.session') ?? '{}');
      localStorage.setItem('diad.session', JSON.stringify({ ...s, token: 'revoked.jwt.token' }));
    });
    await page.goto(`${stack.url}/fleet`);
    await page.waitForURL(/\/signin\?next=%2Ffleet/);
    expect(await page.evaluate(() => localStorage.getItem('diad.session'))).toBeNull();
    await page.getByLabel('Username').fill(USERS.supervisor.username);
    await page.getByLabel('Password').fill(USERS.supervisor.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/fleet$/);
    await page.locator('table.fleet').waitFor();
    expect(saved).not.toBeNull();
  });

  it('as a supervisor: sees the rollout but cannot pause, abort or roll it back, nor change thresholds', async () => {
    await page.getByRole('link', { name: 'Rollouts' }).click();
    await page.getByRole('link', { name: 'diad-housing@1.1.0' }).click();
    await page.waitForURL(/\/rollouts\/.+/);
    await page.getByTestId('rollout-status').filter({ hasText: 'Running' }).waitFor();
    expect(await page.getByRole('button', { name: 'Roll back' }).count()).toBe(0);
    expect(await page.getByRole('note').textContent()).toMatch(
      /Only engineers and admins can pause, abort or roll back/,
    );
    // The server refuses the same request from this session (the UI is not the only guard).
    const status = await page.evaluate(async (id) => {
      const token = JSON.parse(localStorage.getItem('diad.session') ?? '{}').token;
      const r = await fetch(`/api/v1/rollouts/${id}/rollback`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      return r.status;
    }, stack.seeded.rolloutId);
    expect(status).toBe(403);
    await page.reload();
    await page.getByTestId('rollout-status').filter({ hasText: 'Running' }).waitFor();

    await page.getByRole('link', { name: 'Thresholds' }).click();
    await page.getByTestId('audit-trail').waitFor();
    expect(await page.getByRole('button', { name: 'Save as new version' }).count()).toBe(0);
    expect(await page.getByRole('note').textContent()).toMatch(
      /Only engineers and admins can change thresholds/,
    );
    await signOut();
  });

  it('as an engineer: rolls the rollout back and changes a threshold, both in the audit trail', async () => {
    await signInAs(USERS.engineer);
    await page.getByRole('link', { name: 'Rollouts' }).click();
    await page.getByRole('link', { name: 'diad-housing@1.1.0' }).click();
    await page.getByTestId('rollout-status').filter({ hasText: 'Running' }).waitFor();
    await shot('06-rollout');
    await page.getByRole('button', { name: 'Roll back' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByLabel(/Reason/).fill('false NOKs on line 1');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await page.getByTestId('rollout-status').filter({ hasText: 'Rolled back' }).waitFor();
    expect(await page.locator('.alert.success').textContent()).toMatch(/rolled back/);

    const admin = await (await import('./seed.js')).signIn(stack.url, USERS.admin);
    const r = await admin.get(`/api/v1/rollouts/${stack.seeded.rolloutId}`);
    expect(r.status).toBe('rolled_back');
    expect(r.reason).toBe('false NOKs on line 1');
    // The device that had activated the candidate is told to go back to what it ran before (no model pinned).
    const canary = r.devices.find((d: { stage: number }) => d.stage === 0);
    expect(canary.state).toBe('rolled_back');
    expect((await admin.get(`/api/v1/devices/${canary.deviceId}/desired-state`)).model).toBeNull();
    const audit = await admin.get(
      `/api/v1/audit?entityType=rollout&entityId=${stack.seeded.rolloutId}&action=rollout.rollback`,
    );
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0].actorName).toBe(USERS.engineer.username);

    await page.getByRole('link', { name: 'Thresholds' }).click();
    await page.getByLabel('Image threshold').fill('0.55');
    await page.getByLabel('Note').fill('fewer false NOKs');
    await page.getByRole('button', { name: 'Save as new version' }).click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid="effective-image"]')?.textContent === '0.550',
    );
    const trail = page.getByTestId('audit-trail');
    expect(await trail.locator('tbody tr').first().textContent()).toMatch(
      /erin \(engineer\).*image 0\.500 → 0\.550.*fewer false NOKs/,
    );
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot('07-thresholds');
    expect(browser.errors).toEqual([]);
  });
  it("as a supervisor: reviews the queue, labels a result and corrects it; follows a training job's progress", async () => {
    await signOut(); // the engineer of the test before is still signed in
    await signInAs(USERS.supervisor);
    const { lines } = stack.seeded;
    await page.goto(`${stack.url}/review?line=${lines.L1.id}`);
    const queue = page.getByRole('table', { name: 'Review queue' });
    await queue.waitFor();
    // The most useful result to label is the first row; open it.
    const first = queue.locator('tbody tr').first();
    const resultId = (await first.getAttribute('data-result'))!;
    const verdict = (await first.locator('td').nth(3).textContent())!.trim();
    await first.getByRole('link').click();
    await page.waitForURL(new RegExp(`/results/${resultId}`));
    const card = page.getByRole('article', { name: 'Supervisor label' });
    await card.getByText('Not labelled yet.').waitFor();
    // Only the two labels that fit the verdict are offered.
    const [first1, then] =
      verdict === 'NOK'
        ? [
            ['False alarm', 'false alarm'],
            ['Confirm defect', 'confirmed defect'],
          ]
        : [
            ['Confirm OK', 'confirmed OK'],
            ['Missed defect', 'missed defect'],
          ];
    expect(
      await card.locator('button[data-label]').evaluateAll((bs) => bs.map((b) => b.textContent)),
    ).toEqual(expect.arrayContaining([first1[0], then[0]]));
    expect(await card.locator('button[data-label]').count()).toBe(2);
    await card.getByRole('button', { name: first1[0] }).click();
    await card.getByText(`Saved: ${first1[1]} (version 1).`).waitFor();
    await card.locator('input[name="note"]').fill('looked again at the part');
    await card.getByRole('button', { name: then[0] }).click();
    await card.getByText(`Saved: ${then[1]} (version 2).`).waitFor();
    const history = card.getByRole('list', { name: 'Label history' });
    const items = await history.locator('li').allTextContents();
    expect(items).toHaveLength(2);
    expect(items[0]).toMatch(new RegExp(`^v2: ${then[1]} by sam, .* — looked again at the part$`));
    expect(items[1]).toMatch(new RegExp(`^v1: ${first1[1]} by sam, `));
    await page.goto(`${stack.url}/review?line=${lines.L1.id}`);
    await queue.waitFor();
    expect(await queue.locator(`tr[data-result="${resultId}"]`).count()).toBe(0);

    // A running job as a trainer worker leaves it in the database; the page follows its progress.
    const jobId = '01a25200-0000-7000-8000-00000000a001';
    const prisma = stack.cp.db.prisma;
    await prisma.trainingJob.create({
      data: {
        id: jobId,
        lineId: lines.L1.id,
        datasetId: '01a25200-0000-7000-8000-00000000d001',
        config: { modelName: 'widget-l1', config: 'tiny', maxMinutes: 30 },
        status: 'running',
        progress: { stage: 'unet', step: 40, of: 100, loss: 0.1234, etaMinutes: 12 },
        createdBy: 'erin',
      },
    });
    await page.goto(`${stack.url}/training?line=${lines.L1.id}`);
    const row = page.locator(`tr[data-job="${jobId}"]`);
    await row
      .getByTestId('progress')
      .getByText('unet · step 40 of 100 · loss 0.1234 · about 12 min left')
      .waitFor();
    await prisma.trainingJob.update({
      where: { id: jobId },
      data: { status: 'succeeded', progress: { stage: 'done' }, modelVersionId: stack.seeded.models.v2.id },
    });
    await row.getByTestId('status').getByText('succeeded').waitFor({ timeout: 15_000 });
    expect(await row.locator('td').last().textContent()).toBe('version registered');
    expect(browser.errors).toEqual([]);
    await signOut();
  });
  it('as a supervisor: paints the defect region over the image (brush, erase, clear) and saves it as the mask', async () => {
    await signInAs(USERS.supervisor);
    const { resultId } = stack.seeded.defect;
    await page.goto(`${stack.url}/results/${resultId}`);
    const card = page.getByRole('article', { name: 'Supervisor label' });
    const canvas = card.getByTestId('mask-canvas');
    await canvas.waitFor();
    const coverage = card.getByTestId('mask-coverage');
    expect(await coverage.textContent()).toBe('Nothing painted.');
    // The canvas has the image's own pixel size, however large it is shown.
    const natural = await canvas.evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
    expect(natural[0]).toBe(320);
    const drag = async (from: [number, number], to: [number, number]) => {
      // Clicking a button may have scrolled the page: measure the canvas where it is now.
      const box = (await canvas.boundingBox())!;
      await page.mouse.move(box.x + from[0] * box.width, box.y + from[1] * box.height);
      await page.mouse.down();
      await page.mouse.move(box.x + to[0] * box.width, box.y + to[1] * box.height, { steps: 8 });
      await page.mouse.up();
    };
    const covered = async () => Number((await coverage.textContent())!.match(/([\d.]+) %/)?.[1] ?? 0);
    await drag([0.2, 0.3], [0.8, 0.3]);
    await expect.poll(covered).toBeGreaterThan(1);
    const afterStroke = await covered();
    // Erase the right half of the stroke.
    await card.getByRole('button', { name: 'Erase' }).click();
    expect(await card.getByRole('button', { name: 'Erase' }).getAttribute('aria-pressed')).toBe('true');
    await drag([0.55, 0.3], [0.9, 0.3]);
    await expect.poll(covered).toBeLessThan(afterStroke * 0.75);
    expect(await covered()).toBeGreaterThan(0);
    await card.getByRole('button', { name: 'Clear' }).click();
    await card.getByTestId('mask-coverage').getByText('Nothing painted.').waitFor();
    // Paint a short stroke and save it with the label.
    await card.getByRole('button', { name: 'Brush' }).click();
    await drag([0.25, 0.5], [0.45, 0.5]);
    await card.getByRole('button', { name: 'Confirm defect' }).click();
    const saved = await card.getByText(/^Saved: confirmed defect with mask \(version \d+\)\.$/).textContent();
    const version = Number(saved!.match(/version (\d+)/)![1]);
    await card
      .getByRole('list', { name: 'Label history' })
      .getByText(/^v\d+: confirmed defect with mask by sam/)
      .waitFor();
    // The stored mask: the image's size, white on the stroke, black away from it and where nothing was painted.
    const mask = await page.evaluate(
      async ([id, v]) => {
        const token = JSON.parse(localStorage.getItem('diad.session') ?? '{}').token;
        const r = await fetch(`/api/v1/results/${id}/labels/${v}/mask`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const bmp = await createImageBitmap(await r.blob());
        const c = new OffscreenCanvas(bmp.width, bmp.height);
        const g = c.getContext('2d')!;
        g.drawImage(bmp, 0, 0);
        const px = (x: number, y: number) =>
          g.getImageData(Math.floor(x * bmp.width), Math.floor(y * bmp.height), 1, 1).data[0];
        return {
          status: r.status,
          type: r.headers.get('content-type'),
          size: [bmp.width, bmp.height],
          onStroke: px(0.35, 0.5),
          beside: px(0.35, 0.9),
          whereErased: px(0.7, 0.3),
        };
      },
      [resultId, version] as const,
    );
    expect(mask).toEqual({
      status: 200,
      type: 'image/png',
      size: natural,
      onStroke: 255,
      beside: 0,
      whereErased: 0,
    });
    expect(browser.errors).toEqual([]);
    await signOut();
  });
});
