/** The results folder's index: summary.json (every number, machine-readable) and README.md (the tables, the files, what was not produced). */
import type { AgreementRow, EvaluationInput, EvaluationOutput, EvaluationSummary, OutcomeRow, ResultFile, SurvivalRow } from '../evaluate';
import type { EvaluationContext } from './context';

export interface TableRows {
  readonly agreement: { readonly optimal: AgreementRow[]; readonly physician: AgreementRow[] };
  readonly outcome: OutcomeRow[];
  readonly survival: { readonly rows: SurvivalRow[]; readonly cox?: EvaluationSummary['coxBaseline'] };
}

/** Adds summary.json and README.md (last: it indexes every file) and returns the whole evaluation. */
export function resultsFolder(ctx: EvaluationContext, tables: TableRows): EvaluationOutput {
  const { input, truth, seed, resamples, files, skipped } = ctx;
  const summary: EvaluationSummary = {
    schema: 'mewm.evaluation/1',
    cohortId: input.cohortId,
    cases: truth.length,
    seed,
    bootstrapResamples: resamples,
    provenance: input.options.provenance ?? {},
    agreement: { optimal: tables.agreement.optimal, physician: tables.agreement.physician },
    outcome: tables.outcome,
    survival: tables.survival.rows,
    ...(tables.survival.cox ? { coxBaseline: tables.survival.cox } : {}),
    skipped,
  };
  files.push({
    path: 'summary.json',
    content: JSON.stringify(summary, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n',
    description: 'every number above, machine-readable',
  });
  files.push({ path: 'README.md', content: readme(input, files, skipped), description: 'index of this results folder' });
  return { files, summary };
}

function readme(input: EvaluationInput, files: readonly ResultFile[], skipped: readonly string[]): string {
  const lines = [
    `# Evaluation of cohort ${input.cohortId}`,
    '',
    `Cases: ${input.truth.length}. Methods: ${input.methods.map((m) => `${m.label} (\`${m.method}\`, ${m.kind})`).join('; ')}.`,
    `Seed ${input.options.seed}${input.options.provenance?.commit ? `, commit ${input.options.provenance.commit}` : ''}.`,
    ...(input.options.provenance?.command ? ['', 'Command:', '', '```', input.options.provenance.command, '```'] : []),
    '',
    '## Tables',
    '',
  ];
  for (const f of files.filter((f) => f.path.startsWith('tables/') && f.path.endsWith('.md'))) {
    lines.push(typeof f.content === 'string' ? f.content : '');
  }
  lines.push('## Files', '');
  for (const f of files) lines.push(`- \`${f.path}\`: ${f.description}`);
  if (skipped.length > 0) {
    lines.push('', '## Not produced', '');
    for (const s of skipped) lines.push(`- ${s}`);
  }
  return lines.join('\n') + '\n';
}
