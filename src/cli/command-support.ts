/** What the sub-commands share besides ./command.ts: tables, progress, risks. */

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
