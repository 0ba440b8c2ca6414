/** What the Temporal-facing sub-commands share: exit codes, one-line failures, tables, progress. */
import { toMewmError } from '../core/errors';

/** Bad arguments: the usage and exit code 2. */
export function usageError(usage: string, error: unknown, command?: string): number {
  const prefix = command === undefined ? 'mewm' : `mewm ${command}`;
  process.stderr.write(`${prefix}: ${error instanceof Error ? error.message : String(error)}\n${usage}\n`);
  return 2;
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
  const chosen = typed ?? kind ?? (() => {
    const fallback = toMewmError(error);
    return { code: fallback.code, message: fallback.message };
  })();
  // One line; the case said once.
  let message = chosen.message.replace(/\s*\n\s*/g, ' ').trim();
  while (caseId !== undefined && message.startsWith(`case ${caseId}: case ${caseId}`)) message = message.slice(`case ${caseId}: `.length);
  if (caseId !== undefined && !new RegExp(`\\bcase ${caseId.replace(/[.]/g, '\\.')}\\b`).test(message)) message = `case ${caseId}: ${message}`;
  return { code: chosen.code, message, ...(caseId === undefined ? {} : { caseId }) };
}

/** Any other failure: one clear line (the typed code and the original message, see `describeFailure`) and exit code 1. */
export function commandFailed(error: unknown): number {
  const { code, message } = describeFailure(error);
  process.stderr.write(`mewm: ${code}: ${message}\n`);
  return 1;
}

/** A plain-text table with aligned columns. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A one-line progress bar on a TTY stderr; plain lines otherwise (logs, CI). */
export function progressReporter(label: string): { update(done: number, total: number, note?: string): void; finish(): void } {
  const tty = process.stderr.isTTY === true;
  let last = '';
  return {
    update(done, total, note = '') {
      const width = 24;
      const filled = total > 0 ? Math.round((width * Math.min(done, total)) / total) : 0;
      const text = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${note}`.trimEnd();
      if (text === last) return;
      last = text;
      process.stderr.write(tty ? `\r${text}\x1b[K` : `${text}\n`);
    },
    finish() {
      if (tty && last !== '') process.stderr.write('\n');
    },
  };
}

export function formatRisk(risk: number | null | undefined): string {
  return risk === null || risk === undefined ? '-' : risk.toFixed(4);
}
