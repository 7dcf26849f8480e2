import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { makePpm } from '../src/inspector/pnm.js';
import { FakeControlPlane } from './fake-control-plane.js';
import { silent, standInBundle, tmp, waitFor } from './helpers.js';
import { dynsecPlugin, mosquittoBinary, PrivateMosquitto } from './mosquitto.js';

const ADMIN = { username: 'diad-admin', password: 'admin-password-0123456789' };
const DEVICE = { username: 'diad-dev-dev-1', password: 'device-broker-password-0123456789abcdef' };
const MISSING = !mosquittoBinary()
  ? 'mosquitto is not installed'
  : !dynsecPlugin()
    ? 'mosquitto_dynamic_security.so is absent'
    : null;

// The agent starts with no broker login (anonymous, refused by a broker with dynamic security), enrols, gets its
// own login in the enrolment answer and from then on publishes with it; a restart logs in with the stored one.
describe.skipIf(MISSING !== null)(
  `the agent uses the broker login handed out at enrolment${MISSING ? ` (skipped: ${MISSING})` : ''}`,
  () => {
    let broker: PrivateMosquitto;
    const cp = new FakeControlPlane();
    let observer: MqttClient;
    const seen: string[] = [];
    const dir = tmp();
    let agent: Agent | null = null;
    const ctrl = (...args: string[]) =>
      execFileSync(
        'mosquitto_ctrl',
        [
          '-h',
          '127.0.0.1',
          '-p',
          String(broker.port),
          '-u',
          ADMIN.username,
          '-P',
          ADMIN.password,
          'dynsec',
          ...args,
        ],
        { stdio: 'pipe' },
      );
    const config = () =>
      parseConfig({
        site: 'site1',
        line: 'line1',
        deviceId: 'edge-1',
        dataDir: join(dir, 'data'),
        model: { kind: 'standin', bundle: standInBundle(dir) },
        stations: [{ id: 'st1' }],
        mqtt: { url: broker.url, backoff: { initialMs: 50, maxMs: 200 } },
        controlPlane: { url: cp.url, enrolToken: 'one-time-token-0123456789', heartbeatMs: 200 },
        opcua: { enabled: false },
        http: { host: '127.0.0.1', port: 0 },
        images: { save: 'none' },
      });
    const post = async (a: Agent, partId: string) => {
      const addr = a.http!.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/frames?station=st1&partId=${partId}`, {
        method: 'POST',
        body: makePpm(16, 16, 250),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(r.status).toBeLessThan(300);
    };

    beforeAll(async () => {
      broker = await PrivateMosquitto.start({ dynsec: ADMIN });
      // What the control plane's mosquitto-dynsec provisioner does for dev-1, and an observer for the test.
      ctrl('createRole', 'diad-dev-dev-1');
      ctrl('addRoleACL', 'diad-dev-dev-1', 'publishClientSend', 'diad/site1/line1/st1/result', 'allow');
      ctrl('addRoleACL', 'diad-dev-dev-1', 'publishClientSend', 'diad/site1/line1/st1/status', 'allow');
      ctrl('createClient', DEVICE.username, '-p', DEVICE.password);
      ctrl('addClientRole', DEVICE.username, 'diad-dev-dev-1');
      ctrl('createRole', 'observer');
      ctrl('addRoleACL', 'observer', 'subscribePattern', 'diad/#', 'allow');
      ctrl('createClient', 'observer', '-p', 'observer-password-1');
      ctrl('addClientRole', 'observer', 'observer');
      observer = mqtt.connect(broker.url, { username: 'observer', password: 'observer-password-1' });
      await new Promise<void>((r) => observer.once('connect', () => r()));
      await observer.subscribeAsync('diad/#', { qos: 1 });
      observer.on('message', (t, p) => seen.push(`${t} ${JSON.parse(p.toString()).partId ?? ''}`));
      cp.broker = DEVICE;
      await cp.start();
    }, 60_000);
    afterAll(async () => {
      await agent?.stop();
      await observer?.endAsync();
      await cp.close();
      await broker?.close();
    });

    it('enrols, stores the login with its credential (0600) and publishes results with it', async () => {
      agent = await Agent.start(config(), { logger: silent });
      try {
        const stateFile = join(dir, 'data', 'state.json');
        const enrolled = () =>
          existsSync(stateFile) && !!JSON.parse(readFileSync(stateFile, 'utf8')).enrolment;
        await waitFor(enrolled, 10_000, 'the enrolment stored');
        expect(cp.enrolments).toBe(1);
        expect(JSON.parse(readFileSync(stateFile, 'utf8')).enrolment.broker).toEqual(DEVICE);
        expect(statSync(stateFile).mode & 0o777).toBe(0o600);
        await post(agent, 'P-1');
        await waitFor(
          () => seen.includes('diad/site1/line1/st1/result P-1'),
          10_000,
          'the result on the broker',
        );
      } finally {
        await agent.stop();
        agent = null;
      }
    });

    it('after a restart it logs in with the stored login from the start', async () => {
      agent = await Agent.start(
        { ...config(), controlPlane: { ...config().controlPlane!, enrolToken: undefined } },
        {
          logger: silent,
        },
      );
      await post(agent, 'P-2');
      await waitFor(
        () => seen.includes('diad/site1/line1/st1/result P-2'),
        10_000,
        'the result on the broker',
      );
      expect(cp.enrolments).toBe(1);
    });
  },
);
