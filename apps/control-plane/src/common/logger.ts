import { loggerOptions } from '@diad/protocol';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** JSON lines in the project's shared log format (@diad/protocol loggerOptions), to stdout or `dest`. */
export function createLogger(level: string, dest?: DestinationStream): Logger {
  return pino(loggerOptions('diad-control-plane', level), dest);
}
