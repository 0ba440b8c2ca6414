/**
 * Where activity errors become Temporal failures. Retryability is decided where the error is born
 * (the MewmError code table in src/core/errors.ts): every activity is wrapped so that whatever it
 * throws reaches Temporal as an ApplicationFailure whose `type` is the MewmError code and whose
 * `nonRetryable` flag comes from that table. Workflows branch on `type`, never on `instanceof`.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { toMewmError } from '../src/core/errors';
import { inputLabel } from '../src/io/input-label';

/**
 * Node's file-system errors put the full path in their message (`ENOENT: …, open '/data/DOE^JOHN/ct.nii.gz'`),
 * and a failure's cause chain lands in the event history: such causes keep their code, and the
 * path becomes `<path>` (or its base name when mewm wrote it, src/io/input-label.ts). Other causes pass through.
 */
export function withoutPaths(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error) || depth > 8) return error;
  const system = error as NodeJS.ErrnoException & { dest?: unknown };
  const paths = [system.path, system.dest].filter((p): p is string => typeof p === 'string' && p.length > 0);
  const cause = error.cause === undefined ? undefined : withoutPaths(error.cause, depth + 1);
  if (paths.length === 0) {
    if (cause !== error.cause) error.cause = cause;
    return error;
  }
  let message = error.message;
  for (const p of paths) message = message.split(p).join(inputLabel(p, '<path>'));
  const cleaned = new Error(message, cause === undefined ? {} : { cause });
  cleaned.name = error.name;
  if (system.code !== undefined) (cleaned as NodeJS.ErrnoException).code = system.code;
  return cleaned;
}

export function toApplicationFailure(error: unknown): Error {
  if (error instanceof ApplicationFailure || error instanceof CancelledFailure) return error;
  const mewm = toMewmError(withoutPaths(error));
  return ApplicationFailure.create({
    type: mewm.code,
    message: mewm.message,
    nonRetryable: !mewm.retryable,
    details: Object.keys(mewm.details).length > 0 ? [mewm.details] : [],
    ...(mewm.cause instanceof Error ? { cause: withoutPaths(mewm.cause) as Error } : {}),
  });
}

type AsyncFunction = (...args: never[]) => Promise<unknown>;

/** Wraps every function of an activity object so that its failures carry the MewmError code. */
export function withTypedFailures<T extends Record<string, AsyncFunction>>(activities: T): T {
  const wrapped: Record<string, AsyncFunction> = {};
  for (const [name, fn] of Object.entries(activities)) {
    const run = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (error) {
        throw toApplicationFailure(error);
      }
    };
    Object.defineProperty(run, 'name', { value: name });
    wrapped[name] = run;
  }
  return wrapped as T;
}
