/**
 * Where activity errors become Temporal failures. Retryability is decided where the error is born
 * (the MewmError code table in src/core/errors.ts): every activity is wrapped so that whatever it
 * throws reaches Temporal as an ApplicationFailure whose `type` is the MewmError code and whose
 * `nonRetryable` flag comes from that table. Workflows branch on `type`, never on `instanceof`.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { toMewmError } from '../src/core/errors';

export function toApplicationFailure(error: unknown): Error {
  if (error instanceof ApplicationFailure || error instanceof CancelledFailure) return error;
  const mewm = toMewmError(error);
  return ApplicationFailure.create({
    type: mewm.code,
    message: mewm.message,
    nonRetryable: !mewm.retryable,
    details: Object.keys(mewm.details).length > 0 ? [mewm.details] : [],
    ...(mewm.cause instanceof Error ? { cause: mewm.cause } : {}),
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
