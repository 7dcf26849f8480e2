/** Injection tokens: explicit, so Nest's injection does not depend on emitted decorator metadata (tsx, esbuild). */
export const CONFIG = Symbol('CONFIG');
export const CLOCK = Symbol('CLOCK');
export const LOGGER = Symbol('LOGGER');
export const BLOB_STORE = Symbol('BLOB_STORE');

export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };
