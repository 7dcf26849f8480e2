export { DemoBroker } from './broker.js';
export { packBundle, readBundleManifest } from './bundle-tar.js';
export { ApiError, ControlPlaneApi, type HistoryResult } from './control-plane-api.js';
export { HotFolderFeeder } from './feeder.js';
export { freePort } from './ports.js';
export { LiveSummary } from './summary.js';
export {
  hasFfmpeg,
  PLC_USER,
  type RunningSystem,
  type SystemOptions,
  startSystem,
  waitFor,
} from './system.js';
export { ensureTestImages, type TestImage } from './test-images.js';
