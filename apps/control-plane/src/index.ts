export type { BlobStore } from './blob/blob-store.js';
export { FsBlobStore } from './blob/fs-blob-store.js';
export { S3BlobStore, type S3Options } from './blob/s3-blob-store.js';
export {
  ConfigError,
  ControlPlaneConfig,
  type ControlPlaneConfigInput,
  configFromEnv,
  parseConfig,
} from './config.js';
export { type ControlPlane, type ControlPlaneOverrides, createControlPlane } from './control-plane.js';
export { Database } from './db/database.js';
export { applyMigrations, loadMigrations } from './db/migrate.js';
