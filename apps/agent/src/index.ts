export { AGENT_VERSION, Agent, bundleSha256 } from './app.js';
export { type AgentConfig, AgentConfigSchema, ConfigError, loadConfig, parseConfig } from './config.js';
export type { Frame, FrameInput, RawFrame } from './frame.js';
export { InspectionService } from './inspection.js';
export { DiadInspector } from './inspector/diad.js';
export { ModelManager } from './inspector/model-manager.js';
export { StandInInspector } from './inspector/standin.js';
export {
  FrameDecodeError,
  type InspectionOutput,
  type Inspector,
  type InspectorFactory,
} from './inspector/types.js';
export { MemoryOutbox } from './outbox/memory.js';
export { SqliteOutbox } from './outbox/sqlite.js';
export { type Outbox, OutboxFullError } from './outbox/types.js';
