/**
 * Every `mewm` sub-command is the same three steps: parse its arguments, run, and map the outcome
 * to an exit code by one policy (`exitCodeFor`, the only place that turns errors into codes):
 *
 *   0  done.
 *   1  failed, and the same command may succeed later: a transient or run-time failure (Temporal or
 *      an LLM endpoint unreachable, an artifact store down, a timeout, a cancelled or terminated
 *      workflow, an internal error), or a batch ran and some of its cases failed (cohort, baseline,
 *      extract: the failures are in its output).
 *   2  what was given must change first: bad arguments (the usage is printed), or a final typed
 *      error (`retryable: false` in src/core/errors.ts: invalid input, volume or configuration, an
 *      unknown agent or a protocol that breaks a rule, a missing, tampered or non-conforming model,
 *      a policy that keeps answering outside the schema, a missing or corrupt artifact).
 *
 * A failure is one line on stderr, `mewm: <code>: <message>` (`describeFailure`: the innermost
 * typed failure of a Temporal chain, the case said once); `--help` prints the usage and exits 0.
 */
import { ErrorCodes, toMewmError, type ErrorCode } from '../core/errors';

export const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export type Env = Readonly<Record<string, string | undefined>>;

export interface Command<A> {
  /** The sub-command's name, as typed after `mewm`. */
  readonly name: string;
  readonly usage: string;
  /** Arguments → a typed value; throws on bad arguments (exit 2, with the usage). Reads no file, env or server. */
  readonly parse: (argv: readonly string[]) => A;
  /** Runs the command; resolves to `EXIT.ok`, or `EXIT.failed` when a batch finished with failed cases. Anything else throws. */
  readonly run: (args: A, context: { readonly argv: readonly string[]; readonly env: Env }) => Promise<ExitCode>;
}

interface FailureLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly type?: unknown;
  readonly code?: unknown;
  readonly cause?: unknown;
}

const casePrefix = /^case ([A-Za-z0-9][A-Za-z0-9._-]{0,127}): /;

/** Temporal's own failure kinds without an application type, by class name (`instanceof` breaks across SDK copies). */
const temporalKinds: Readonly<Record<string, string>> = {
  TimeoutFailure: 'Timeout',
  CancelledFailure: 'Cancelled',
  TerminatedFailure: 'Terminated',
  WorkflowExecutionAlreadyStartedError: 'AlreadyStarted',
};

/**
 * What a failure means to the user: the typed code and the original message, from the innermost
 * typed failure of the chain Temporal wraps it in (WorkflowFailedError → ApplicationFailure of the
 * plan → ChildWorkflowFailure → ActivityFailure → ApplicationFailure of the activity, `type` = the
 * MewmError code). The case id comes from the outermost `case X: ` prefix (the plan workflow adds
 * it) and is said once: a message that already names the case is not prefixed again.
 */
export function describeFailure(error: unknown): { code: string; message: string; caseId?: string } {
  const chain: FailureLike[] = [];
  for (let e: unknown = error; typeof e === 'object' && e !== null && chain.length < 16; e = (e as FailureLike).cause) chain.push(e as FailureLike);
  let typed: { code: string; message: string } | undefined;
  let kind: { code: string; message: string } | undefined;
  let caseId: string | undefined;
  for (const failure of chain) {
    const message = typeof failure.message === 'string' ? failure.message : '';
    caseId ??= casePrefix.exec(message)?.[1];
    if (typeof failure.type === 'string' && failure.type !== '') typed = { code: failure.type, message };
    else if (failure.name === 'MewmError' && typeof failure.code === 'string') typed = { code: failure.code, message };
    else if (typeof failure.name === 'string' && temporalKinds[failure.name] !== undefined) kind ??= { code: temporalKinds[failure.name]!, message };
  }
  const chosen =
    typed ??
    kind ??
    (() => {
      const fallback = toMewmError(error);
      return { code: fallback.code, message: fallback.message };
    })();
  // One line; the case said once.
  let message = chosen.message.replace(/\s*\n\s*/g, ' ').trim();
  while (caseId !== undefined && message.startsWith(`case ${caseId}: case ${caseId}`)) message = message.slice(`case ${caseId}: `.length);
  if (caseId !== undefined && !new RegExp(`\\bcase ${caseId.replace(/[.]/g, '\\.')}\\b`).test(message)) message = `case ${caseId}: ${message}`;
  return { code: chosen.code, message, ...(caseId === undefined ? {} : { caseId }) };
}

/** The exit code of a failure: 2 for a final typed error (fix the input or configuration), 1 otherwise. */
export function exitCodeFor(error: unknown): ExitCode {
  const { code } = describeFailure(error);
  return code in ErrorCodes && !ErrorCodes[code as ErrorCode].retryable ? EXIT.invalid : EXIT.failed;
}

/** Prints the failure as one line and returns its exit code. */
export function reportFailure(error: unknown): ExitCode {
  const { code, message } = describeFailure(error);
  process.stderr.write(`mewm: ${code}: ${message}\n`);
  return exitCodeFor(error);
}

/** parse → run → exit code, the same for every sub-command. */
export async function runCommand<A>(command: Command<A>, argv: readonly string[], env: Env = process.env): Promise<ExitCode> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return EXIT.ok;
  }
  let args: A;
  try {
    args = command.parse(argv);
  } catch (error) {
    process.stderr.write(`mewm ${command.name}: ${error instanceof Error ? error.message : String(error)}\n${command.usage}\n`);
    return EXIT.invalid;
  }
  try {
    return await command.run(args, { argv, env });
  } catch (error) {
    return reportFailure(error);
  }
}
