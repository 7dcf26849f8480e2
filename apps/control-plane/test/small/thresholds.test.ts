import { describe, expect, it } from 'vitest';
import { resolveThresholds } from '../../src/thresholds/resolve.js';

const cal = { imageThreshold: 0.5, pixelThreshold: 0.3 };
const set = {
  version: 4,
  image: 0.6,
  pixel: null,
  stationOverrides: { st2: { image: 0.7, categories: { screw: 0.95 } }, st3: { pixel: 0.1 } },
  categoryOverrides: { screw: 0.8, nut: 0.4 },
};

describe('resolveThresholds', () => {
  it('falls back to the model calibration (version 0) when the line has no set', () => {
    expect(resolveThresholds(null, 'st1', cal)).toEqual({
      thresholds: { version: 0, image: 0.5, pixel: 0.3 },
      categoryThresholds: {},
    });
    expect(resolveThresholds(null, 'st1', null)).toBeNull();
  });

  it('applies station over line over model, per value', () => {
    expect(resolveThresholds(set, 'st1', cal)?.thresholds).toEqual({ version: 4, image: 0.6, pixel: 0.3 });
    expect(resolveThresholds(set, 'st2', cal)?.thresholds).toEqual({ version: 4, image: 0.7, pixel: 0.3 });
    expect(resolveThresholds(set, 'st3', cal)?.thresholds).toEqual({ version: 4, image: 0.6, pixel: 0.1 });
  });

  it('merges category overrides, the station winning', () => {
    expect(resolveThresholds(set, 'st1', cal)?.categoryThresholds).toEqual({ screw: 0.8, nut: 0.4 });
    expect(resolveThresholds(set, 'st2', cal)?.categoryThresholds).toEqual({ screw: 0.95, nut: 0.4 });
  });

  it('cannot resolve a value nobody set', () => {
    expect(resolveThresholds({ ...set, stationOverrides: {} }, 'st1', null)).toBeNull();
  });
});
