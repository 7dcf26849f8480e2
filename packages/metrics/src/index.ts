export const METRICS_VERSION = '0.1.0';
