import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/main.js';

function captured() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
  return { out: () => out.join(''), err: () => err.join('') };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('diad-control-plane command line', () => {
  it('--help and --version exit 0', async () => {
    const io = captured();
    expect(await main(['--help'])).toBe(0);
    expect(await main(['-V'])).toBe(0);
    expect(io.out()).toMatch(/Usage: diad-control-plane/);
    expect(io.out()).toMatch(/JWT_SECRET/);
    expect(io.out()).toMatch(/^diad-control-plane \d+\.\d+\.\d+$/m);
  });

  it('a usage error exits 2 naming the option', async () => {
    const io = captured();
    expect(await main(['--port', '1'])).toBe(2);
    expect(io.err()).toBe("diad-control-plane: Unknown option '--port' (see diad-control-plane --help)\n");
  });

  it('a configuration error names the environment variable, in one line without a stack trace', async () => {
    vi.stubEnv('JWT_SECRET', '');
    vi.stubEnv('PORT', '99999');
    const io = captured();
    expect(await main([])).toBe(2);
    expect(io.err()).toBe(
      'diad-control-plane: configuration: PORT: Too big: expected number to be <=65535; JWT_SECRET: required\n',
    );
  });
});
