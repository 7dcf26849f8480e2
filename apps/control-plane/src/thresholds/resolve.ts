/** Pure: the thresholds a station applies, from the line's effective set and the model's own calibration. */
export interface ThresholdSetLike {
  version: number;
  image: number | null;
  pixel: number | null;
  stationOverrides: Record<string, { image?: number; pixel?: number; categories?: Record<string, number> }>;
  categoryOverrides: Record<string, number>;
}

export interface ResolvedThresholds {
  thresholds: { version: number; image: number; pixel: number };
  categoryThresholds: Record<string, number>;
}

/**
 * Precedence, most specific first: station override, line value, the model's calibration. Category overrides of
 * the station replace the line's for the same category. Version 0 means "the bundle's own calibration".
 */
export function resolveThresholds(
  set: ThresholdSetLike | null,
  stationCode: string,
  calibration: { imageThreshold: number; pixelThreshold: number } | null,
): ResolvedThresholds | null {
  if (!set) {
    if (!calibration) return null;
    return {
      thresholds: { version: 0, image: calibration.imageThreshold, pixel: calibration.pixelThreshold },
      categoryThresholds: {},
    };
  }
  const st = set.stationOverrides[stationCode] ?? {};
  const image = st.image ?? set.image ?? calibration?.imageThreshold;
  const pixel = st.pixel ?? set.pixel ?? calibration?.pixelThreshold;
  if (image === undefined || pixel === undefined) return null;
  return {
    thresholds: { version: set.version, image, pixel },
    categoryThresholds: { ...set.categoryOverrides, ...(st.categories ?? {}) },
  };
}
