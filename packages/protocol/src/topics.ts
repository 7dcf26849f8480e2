/** MQTT topics (v1). Segments are validated ids, so they never contain '/', '+' or '#'. */
export const TOPIC_ROOT = 'diad';

export interface StationAddress {
  site: string;
  line: string;
  station: string;
}

export const topics = {
  result: (a: StationAddress) => `${TOPIC_ROOT}/${a.site}/${a.line}/${a.station}/result`,
  status: (a: StationAddress) => `${TOPIC_ROOT}/${a.site}/${a.line}/${a.station}/status`,
  /** Shared subscription so several control-plane replicas split the result stream. */
  sharedResults: (group = 'control-plane') => `$share/${group}/${TOPIC_ROOT}/+/+/+/result`,
  allStatus: () => `${TOPIC_ROOT}/+/+/+/status`,
};

/** HTTP API between agents and the control plane (paths relative to the control plane's base URL). */
export const agentApi = {
  enrol: '/api/v1/agent/enrol',
  heartbeat: '/api/v1/agent/heartbeat',
  desiredState: '/api/v1/agent/desired-state',
  results: '/api/v1/agent/results',
  /** GET `${bundles}/<modelVersionId>` streams a bundle .tar (BundleRef.url carries the full path). */
  bundles: '/api/v1/agent/bundles',
  /** PUT the stored image or heatmap of a result: replace :resultId, and :kind with `image` or `heatmap`. */
  resultArtifact: '/api/v1/agent/results/:resultId/:kind',
} as const;
