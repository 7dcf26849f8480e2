import { METRICS_VERSION } from '@diad/metrics';
import { describe, expect, it } from 'vitest';

describe('workspace resolution', () => {
  it('resolves @diad/metrics from source', () => {
    expect(METRICS_VERSION).toBe('0.1.0');
  });
});
