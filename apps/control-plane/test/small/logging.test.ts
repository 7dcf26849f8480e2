import { Writable } from 'node:stream';
import { loggerOptions } from '@diad/protocol';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/common/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, stream };
}

describe('log lines', () => {
  it('have the same fields in the control plane and the agent (time, level name, service, msg)', async () => {
    const cp = capture();
    createLogger('info', cp.stream).warn({ station: 'st1', err: 'boom' }, 'hello');
    const agent = capture();
    // The agent builds its logger from the same options (apps/agent/src/app.ts).
    pino(loggerOptions('diad-agent', 'info'), agent.stream).warn({ station: 'st1', err: 'boom' }, 'hello');
    await new Promise((r) => setImmediate(r));
    const [a] = cp.lines;
    const [b] = agent.lines;
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    expect(a).toMatchObject({ level: 'warn', service: 'diad-control-plane', msg: 'hello', station: 'st1' });
    expect(b).toMatchObject({ level: 'warn', service: 'diad-agent', msg: 'hello', station: 'st1' });
    expect(new Date(a.time as string).toISOString()).toBe(a.time);
  });
});
