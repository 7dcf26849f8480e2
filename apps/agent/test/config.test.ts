import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../src/config.js';
import { tmp } from './helpers.js';

const base = () => ({
  site: 'plant1',
  line: 'line1',
  dataDir: '/tmp/x',
  model: { kind: 'standin', bundle: '/b.json' },
  stations: [{ id: 'st1' }],
});

describe('config', () => {
  it('fills documented defaults', () => {
    const c = parseConfig(base());
    expect(c.stations[0].queueSize).toBe(8);
    expect(c.opcua.securityModes).toEqual(['Sign', 'SignAndEncrypt']);
    expect(c.opcua.securityPolicies).toEqual(['Basic256Sha256']);
    expect(c.opcua.pkiDir).toBe('/tmp/x/pki');
    expect(c.mqtt).toMatchObject({
      enabled: true,
      url: 'mqtt://127.0.0.1:1883',
      backoff: { initialMs: 500, maxMs: 30000 },
      sparkplug: { enabled: false },
    });
    expect(c.outbox).toEqual({ capacityMb: 256, synchronous: 'full', inflight: 64 });
    expect(c.images).toMatchObject({ save: 'nok', retentionDays: 7 });
  });

  it.each([
    [{ site: 'bad site' }, /site: expected letters/],
    [{ mqtt: { url: 'http://x' } }, /mqtt\.url: expected an mqtt/],
    [{ stations: [] }, /stations: /],
    [{ stations: [{ id: 'a', queueSize: 0 }] }, /stations\.0\.queueSize/],
    [{ opcua: { securityModes: ['Fast'] } }, /opcua\.securityModes\.0/],
    [
      { sources: { hotFolders: [{ path: '/in', station: 'zz' }] } },
      /sources\.hotFolders\.0\.station: unknown station "zz"/,
    ],
    [{ stations: [{ id: 'a', triggerCamera: 'cam9' }] }, /stations\.0\.triggerCamera: unknown camera/],
    [{ model: { kind: 'standin' } }, /model\.bundle: required/],
    [{ controlPlane: { url: 'not a url' } }, /controlPlane\.url/],
  ])('names the key in errors: %j', (patch, re) => {
    expect(() => parseConfig({ ...base(), ...patch })).toThrow(re);
    expect(() => parseConfig({ ...base(), ...patch })).toThrow(ConfigError);
  });

  it('loads YAML and reports unreadable or malformed files with the path', () => {
    const dir = tmp();
    const p = join(dir, 'agent.yaml');
    writeFileSync(
      p,
      'site: plant1\nline: line1\ndataDir: ./data\nmodel: { kind: standin, bundle: m.json }\nstations:\n  - id: st1\n',
    );
    expect(loadConfig(p).site).toBe('plant1');
    writeFileSync(p, 'site: [');
    expect(() => loadConfig(p)).toThrow(/agent.yaml: not valid YAML/);
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(/cannot read/);
  });

  it('accepts the committed example config', () => {
    const c = loadConfig(join(__dirname, '../../../deploy/agent.example.yaml'));
    expect(c.stations.length).toBeGreaterThan(0);
  });
});

describe('published MQTT JSON Schemas', () => {
  it('docs/mqtt/*.schema.json match the zod contracts (regenerate with apps/agent/scripts/gen-mqtt-schemas.ts)', async () => {
    const { readFileSync } = await import('node:fs');
    const { mqttJsonSchemas } = await import('../src/mqtt/json-schemas.js');
    for (const [name, schema] of Object.entries(mqttJsonSchemas())) {
      const committed = JSON.parse(
        readFileSync(join(__dirname, `../../../docs/mqtt/${name}.schema.json`), 'utf8'),
      );
      expect(committed).toEqual(JSON.parse(JSON.stringify(schema)));
    }
  });
});

describe('diad-agent CLI', () => {
  it('check: exit 0 for a valid config, 2 naming the key for an invalid one, 2 for bad usage', async () => {
    const { vi } = await import('vitest');
    const { main } = await import('../src/cli.js');
    const err: string[] = [];
    const out: string[] = [];
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
      err.push(String(s));
      return true;
    });
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    try {
      expect(await main(['check', '--config', join(__dirname, '../../../deploy/agent.example.yaml')])).toBe(
        0,
      );
      const bad = join(tmp(), 'bad.yaml');
      writeFileSync(
        bad,
        'site: plant1\nline: line1\ndataDir: /tmp/x\nmodel: { kind: standin, bundle: b.json }\nstations: [{ id: st1, queueSize: -1 }]\n',
      );
      expect(await main(['check', '--config', bad])).toBe(2);
      expect(await main(['run'])).toBe(2);
      expect(await main(['run', '--config', bad, '--bogus'])).toBe(2);
      expect(await main(['--help'])).toBe(0);
      expect(await main(['--version'])).toBe(0);
    } finally {
      e.mockRestore();
      o.mockRestore();
    }
    expect(out.join('')).toMatch(/agent.example.yaml: ok/);
    expect(err.join('')).toMatch(/invalid config: .*bad.yaml: stations\.0\.queueSize/);
    expect(err.join('')).toMatch(/diad-agent: --config <file> is required/);
    expect(err.join('')).toMatch(/diad-agent: Unknown option '--bogus'/);
    expect(out.join('')).toMatch(/Usage: diad-agent <command> --config <agent.yaml>/);
    expect(out.join('')).toMatch(/^diad-agent \d+\.\d+\.\d+$/m);
  });

  it('takes secrets from the environment over the file, naming the variable when one is wrong', () => {
    const file = join(tmp(), 'env.yaml');
    writeFileSync(
      file,
      'site: plant1\nline: line1\ndataDir: /tmp/x\nmodel: { kind: standin, bundle: b.json }\nstations: [{ id: st1 }]\n' +
        'mqtt: { username: u, password: from-file }\ncontrolPlane: { url: "http://127.0.0.1:1" }\n',
    );
    const c = loadConfig(file, {
      DIAD_MQTT_PASSWORD: 'from-env',
      DIAD_OPCUA_USERS: 'plc:pw1:with-colon,hmi:pw2',
      DIAD_ENROL_TOKEN: 't'.repeat(20),
    });
    expect(c.mqtt.password).toBe('from-env');
    expect(c.mqtt.username).toBe('u');
    expect(c.opcua.users).toEqual([
      { username: 'plc', password: 'pw1:with-colon' },
      { username: 'hmi', password: 'pw2' },
    ]);
    expect(c.controlPlane?.enrolToken).toBe('t'.repeat(20));
    expect(loadConfig(file, { DIAD_OPCUA_USERS: '[{"username":"a","password":"b"}]' }).opcua.users).toEqual([
      { username: 'a', password: 'b' },
    ]);
    expect(() => loadConfig(file, { DIAD_ENROL_TOKEN: 'short' })).toThrow(
      /controlPlane\.enrolToken \(from DIAD_ENROL_TOKEN\)/,
    );
    expect(() => loadConfig(file, { DIAD_OPCUA_USERS: 'nocolon' })).toThrow(
      /DIAD_OPCUA_USERS: expected user:password/,
    );
  });
});
