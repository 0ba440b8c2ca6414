/**
 * The process's logger: pino JSON lines on stderr (MEWM_LOG_PRETTY=1 for humans), at the level of
 * the typed configuration. A library under src/, so that the CLI, the application layer and the
 * workers take it from one place (workers/logging.ts routes the Temporal runtime's logger into
 * it). Log lines carry pseudonymous case ids only.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import type { MewmConfig } from '../config/config';

export type Logger = PinoLogger;

export function createLogger(config: MewmConfig['log'], name = 'mewm'): Logger {
  if (config.pretty) {
    return pino({ name, level: config.level, transport: { target: 'pino-pretty', options: { colorize: true, destination: 2, ignore: 'pid,hostname' } } });
  }
  return pino({ name, level: config.level }, pino.destination(2));
}
