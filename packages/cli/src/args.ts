/** Small helpers to turn parsed command-line strings into checked values with messages naming the option. */

export class UsageError extends Error {
  override name = 'UsageError';
}

export function intOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(v)) {
    throw new UsageError(`--${name} must be an integer, got "${raw}"`);
  }
  if (v < min || v > max) throw new UsageError(`--${name} must be in [${min}, ${max}], got ${v}`);
  return v;
}

export function numberOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
) {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v))
    throw new UsageError(`--${name} must be a number, got "${raw}"`);
  if (v < min || v > max) throw new UsageError(`--${name} must be in [${min}, ${max}], got ${v}`);
  return v;
}

export function listOption(raw: string | string[] | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const items = (Array.isArray(raw) ? raw : [raw]).flatMap((r) => r.split(',')).map((s) => s.trim());
  return items.filter((s) => s.length > 0);
}

export function choiceOption<T extends string>(
  name: string,
  raw: string | undefined,
  choices: readonly T[],
  fallback: T,
): T {
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}
