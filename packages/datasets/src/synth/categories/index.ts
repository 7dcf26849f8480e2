import type { CategorySpec } from '../types.js';
import { bottleCap } from './bottleCap.js';
import { fabric } from './fabric.js';
import { hexNut } from './hexNut.js';
import { tile } from './tile.js';
import { wood } from './wood.js';

export const SYNTH_CATEGORIES: readonly CategorySpec[] = [fabric, wood, tile, hexNut, bottleCap];

export function synthCategory(name: string): CategorySpec {
  const found = SYNTH_CATEGORIES.find((c) => c.name === name);
  if (!found) {
    const known = SYNTH_CATEGORIES.map((c) => c.name).join(', ');
    throw new RangeError(`unknown synthetic category "${name}"; expected one of: ${known}`);
  }
  return found;
}
