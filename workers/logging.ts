/**
 * The Temporal runtime's logger routed into mewm's pino logger (src/logging/logger.ts: workflow
 * `log` is replay-safe; activity `log` carries the activity's ids). Log lines carry pseudonymous
 * case ids only.
 */
import { Runtime, type Logger as TemporalLogger } from '@temporalio/worker';
import type { LogLevel as TemporalLogLevel, LogMetadata } from '@temporalio/common';
import type { Logger } from '../src/logging/logger';

export function temporalLoggerFor(log: Logger): TemporalLogger {
  const at = (requested: TemporalLogLevel, message: string, meta?: LogMetadata) => {
    const object = meta ?? {};
    // The SDK's own bookkeeping (worker state changes, polling) is debug detail for mewm users.
    const sdkInternal = object.sdkComponent === 'worker' || object.sdkComponent === 'core';
    const expected = message.startsWith('No workflows registered'); // activity-only GPU/LLM workers
    const level: TemporalLogLevel = (sdkInternal && requested === 'INFO') || expected ? 'DEBUG' : requested;
    switch (level) {
      case 'TRACE':
        return log.trace(object, message);
      case 'DEBUG':
        return log.debug(object, message);
      case 'INFO':
        return log.info(object, message);
      case 'WARN':
        return log.warn(object, message);
      case 'ERROR':
        return log.error(object, message);
    }
  };
  return {
    log: at,
    trace: (m, meta) => at('TRACE', m, meta),
    debug: (m, meta) => at('DEBUG', m, meta),
    info: (m, meta) => at('INFO', m, meta),
    warn: (m, meta) => at('WARN', m, meta),
    error: (m, meta) => at('ERROR', m, meta),
  };
}

let installed = false;

/**
 * Installs the Temporal runtime with the pino logger, once per process and before any worker or
 * native connection exists (later calls, or a runtime already created, keep the existing one).
 */
export function installRuntimeLogging(log: Logger): void {
  if (installed) return;
  installed = true;
  try {
    Runtime.install({ logger: temporalLoggerFor(log.child({ component: 'temporal' })), shutdownSignals: [] });
  } catch {
    // A runtime was already instantiated in this process (e.g. by a test harness): keep it.
  }
}
