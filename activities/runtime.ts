/**
 * The activity's view of its Temporal context, with a detached stand-in so that the same
 * activity functions also run in a plain in-process loop (the orchestration benchmark baseline,
 * unit tests): there, heartbeats go nowhere and there is no earlier attempt to resume from.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';

export interface ActivityRuntime {
  /** Attempt number, 1 for the first try. */
  readonly attempt: number;
  /** The details of the last heartbeat of the previous attempt, if any. */
  readonly previousProgress: unknown;
  /** Names this activity execution across its attempts (workflow id, run id, activity id); undefined outside Temporal. */
  readonly executionKey: string | undefined;
  /** Records progress; Temporal keeps the latest for a retried attempt. */
  heartbeat(progress: unknown): void;
  /** Throws CancelledFailure when the workflow cancelled this activity (or its worker is shutting down). */
  throwIfCancelled(): void;
}

export function currentRuntime(): ActivityRuntime {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return detachedRuntime;
  }
  return {
    attempt: context.info.attempt,
    previousProgress: context.info.heartbeatDetails,
    executionKey: context.info.workflowExecution
      ? `${context.info.workflowExecution.workflowId}/${context.info.workflowExecution.runId}/${context.info.activityId}`
      : undefined,
    heartbeat: (progress) => context.heartbeat(progress),
    throwIfCancelled: () => {
      if (context.cancellationSignal.aborted) throw new CancelledFailure(String(context.cancellationSignal.reason ?? 'activity cancelled'));
    },
  };
}

const detachedRuntime: ActivityRuntime = {
  attempt: 1,
  previousProgress: undefined,
  executionKey: undefined,
  heartbeat: () => {},
  throwIfCancelled: () => {},
};

/**
 * Gives the event loop a turn so that heartbeats, cancellation and other activities' I/O get
 * through between chunks of synchronous compute (the oracle world model runs on this thread;
 * ONNX inference runs in its own worker thread).
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
