/**
 * Failure handling inside workflows. A MewmError thrown by pure planning code would fail the
 * workflow *task* (retried forever); it is turned into an ApplicationFailure that fails the
 * workflow with the same `type`. Failures from activities and children are read by `type`.
 */
import { ApplicationFailure } from '@temporalio/workflow';

interface MaybeFailure {
  readonly name?: string;
  readonly message?: string;
  readonly type?: string | null;
  readonly code?: string;
  readonly retryable?: boolean;
  readonly cause?: unknown;
}

/** The innermost ApplicationFailure type of a failure chain (activity → child → …), e.g. `InvalidVolume`. */
export function failureType(error: unknown): { type: string; message: string } {
  let current: unknown = error;
  let found: { type: string; message: string } | undefined;
  for (let depth = 0; depth < 10 && typeof current === 'object' && current !== null; depth++) {
    const failure = current as MaybeFailure;
    if (failure instanceof ApplicationFailure && failure.type) found = { type: failure.type, message: failure.message };
    current = failure.cause;
  }
  if (found) return found;
  const failure = error as MaybeFailure;
  return { type: failure?.name === 'CancelledFailure' ? 'Cancelled' : 'Internal', message: failure?.message ?? String(error) };
}

/** A MewmError as a non-retryable ApplicationFailure of the same type; anything else unchanged. */
function asWorkflowFailure(error: unknown): unknown {
  const failure = error as MaybeFailure;
  if (failure?.name === 'MewmError' && typeof failure.code === 'string') {
    return ApplicationFailure.create({ type: failure.code, message: failure.message ?? failure.code, nonRetryable: true });
  }
  return error;
}

/** Runs pure planning code; a MewmError becomes a non-retryable workflow failure of the same type. */
export function runPure<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw asWorkflowFailure(error);
  }
}

/**
 * `runPure` for the planning sequencer (src/core/planning/exploration.ts), which awaits activities
 * and child workflows between pure decisions: their failures pass through unchanged.
 */
export async function runPureAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw asWorkflowFailure(error);
  }
}
