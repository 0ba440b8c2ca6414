/**
 * The `mewm` command: dispatches to one module per sub-command (loaded on demand, so `mewm synth`
 * does not load Temporal). Every sub-command is parse → run → one exit-code policy
 * (./command.ts: 0 done, 1 failed and may succeed later, 2 fix the arguments, input or configuration).
 */
type Command = { readonly summary: string; readonly run: (argv: readonly string[]) => Promise<number> };

const COMMANDS: Readonly<Record<string, Command>> = {
  plan: { summary: 'plan one case through Temporal (embedded server and workers by default)', run: async (a) => (await import('./plan')).runPlan(a) },
  cohort: { summary: 'plan every case of a cohort manifest (resumable, skips finished patients)', run: async (a) => (await import('./cohort')).runCohort(a) },
  status: { summary: 'list recent plans and cohorts, or show one', run: async (a) => (await import('./status')).runStatus(a) },
  audit: { summary: 'export the audit of a plan as JSON or CSV', run: async (a) => (await import('./audit')).runAudit(a) },
  worker: { summary: 'run workers for task queues gpu, llm, cpu (or all)', run: async (a) => (await import('./worker')).runWorker(a) },
  server: { summary: 'run the embedded Temporal dev server in the foreground', run: async (a) => (await import('./server')).runServer(a) },
  synth: { summary: 'write a synthetic TACE cohort', run: async (a) => (await import('./synth')).runSynth(a) },
  baseline: { summary: 'policy-only baseline on a cohort (no world model)', run: async (a) => (await import('./baseline')).runBaseline(a) },
  extract: { summary: 'extract drugs, embolics and attenuation level from TACE reports', run: async (a) => (await import('./extract')).runExtract(a) },
  evaluate: { summary: "evaluate methods on a synthetic cohort: the paper's tables and plots", run: async (a) => (await import('./evaluate')).runEvaluate(a) },
  report: { summary: 'self-contained HTML report of one plan', run: async (a) => (await import('./report')).runReport(a) },
  compare: { summary: "second reader: a physician's protocol simulated beside MeWM's best", run: async (a) => (await import('./compare')).runCompare(a) },
  fidelity: {
    summary: "action fidelity: learned simulation vs the world's truth over a fixed protocol panel",
    run: async (a) => (await import('./fidelity')).runFidelityCommand(a),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return `usage: mewm <command> [options]   (mewm <command> --help for its options)\n\n${Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n')}\n`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`mewm: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`mewm: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
