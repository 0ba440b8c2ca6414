/** What the sub-commands share besides ./command.ts: tables, progress, risks. */
import { EXIT, reportFailure, type ExitCode } from './command';

export { describeFailure } from './command';

/** Bad arguments: the usage and exit code 2 (`runCommand` does this for commands built on ./command.ts). */
export function usageError(usage: string, error: unknown, command?: string): ExitCode {
  process.stderr.write(`${command === undefined ? 'mewm' : `mewm ${command}`}: ${error instanceof Error ? error.message : String(error)}\n${usage}\n`);
  return EXIT.invalid;
}

/** A failure as one line and its exit code (`runCommand` does this for commands built on ./command.ts). */
export const commandFailed = reportFailure;

/** A plain-text table with aligned columns. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
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
