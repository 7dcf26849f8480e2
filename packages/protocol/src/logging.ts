/**
 * How every DiAD Edge service writes its JSON log lines (pino options, so this package needs no logger):
 * `time` (ISO 8601), `level` (its name: "info", "warn"...), `service` (diad-agent, diad-control-plane), `msg`, and
 * the context fields in LOG_FIELDS with the same name and meaning in each service.
 */
export const LOG_FIELDS = {
  /** An error: the Error itself (serialised with its stack) or its message. */
  err: 'err',
  requestId: 'requestId',
  deviceId: 'deviceId',
  station: 'station',
  resultId: 'resultId',
  partId: 'partId',
  /** A model as name@version, or a bundle path. */
  model: 'model',
  bundle: 'bundle',
  url: 'url',
  retryInMs: 'retryInMs',
} as const;

export type ServiceName = 'diad-agent' | 'diad-control-plane';

export function loggerOptions(service: ServiceName, level: string) {
  return {
    level,
    base: { service },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: { level: (label: string) => ({ level: label }) },
  };
}
