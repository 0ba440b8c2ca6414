/**
 * The fidelity summary as tables: markdown (`summary.md` under --out) or aligned plain text (what
 * `mewm fidelity` prints). Same tables, same numbers; docs/fidelity.md says what each one means.
 */
import type { FidelityCheck } from './checks';
import type { FidelityRun } from './run';
import type { Shares } from './measure';
import type { CorrelationName, FidelitySummary, MeasuredQuantity } from './summary';

type Style = 'markdown' | 'text';

function table(style: Style, header: readonly string[], rows: readonly (readonly string[])[]): string {
  if (style === 'markdown') {
    const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
    return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
  }
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const f2 = (x: number | null) => (x === null || !Number.isFinite(x) ? '—' : x.toFixed(2));
const f3 = (x: number | null) => (x === null || !Number.isFinite(x) ? '—' : x.toFixed(3));
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const shares = (m: Shares) => `${f2(m.viable)}/${f2(m.necrotic)}/${f2(m.lipiodol)}`;

const QUANTITY_LABELS: Readonly<Record<MeasuredQuantity, string>> = {
  'post.viable': 'viable share, post tumour label',
  'post.necrotic': 'necrotic share, post tumour label',
  'post.lipiodol': 'Lipiodol share, post tumour label',
  'post.volumeRatio': 'volume ratio post/pre tumour',
  'pre.viable': 'viable-band share, pre tumour mask',
  'pre.necrotic': 'necrotic share, pre tumour mask',
  'pre.lipiodol': 'Lipiodol share, pre tumour mask',
  liverShiftHu: 'liver HU shift (post − pre)',
};

const RISK_LABELS: readonly [CorrelationName, string][] = [
  ['risk.learned', 'end to end: learned pipeline (dynamics + assistant + heuristic)'],
  ['risk.heuristicOnTruth', '(i) learned heuristic on the true post-CTs, true labels'],
  ['risk.worldOnResponse', "(r) world's risk of the dynamics' expected response (response head alone, before drawing; n/a without one)"],
  ['risk.worldOnSimulated', "(ii) world's risk measured on the simulated post-CTs"],
  ['risk.assistantOnTruth', "(ii-a) world's risk measured on the true post-CTs with the assistant's labels (assistant alone)"],
  [
    'risk.worldOnReconstruction',
    "(ii-b) world's risk measured on the autoencoder's reconstructions of the true post-CTs, assistant labels (ceiling of any denoiser)",
  ],
  ['risk.worldOnTruth', "(iii) oracle: world's risk measured on the true post-CTs"],
  ['risk.posteriorOracle', "ceiling of any image-based model: posterior oracle, expected risk over the hidden biology given the pre-CT's visible phenotype"],
  ['risk.worldOnState', "reference: world's risk of the replicas' true ResponseState"],
];

export function renderFidelityReport(
  run: FidelityRun,
  summary: FidelitySummary,
  checks: { readonly pass: boolean; readonly checks: readonly FidelityCheck[] },
  style: Style,
): string {
  const h = (title: string) => (style === 'markdown' ? `## ${title}` : `${title}\n${'='.repeat(title.length)}`);
  const id = (m: FidelityRun['models']['dynamics']) => `${m.name} ${m.version} (${m.backend}, sha256 ${m.sha256.slice(0, 12)})`;
  const settings = Object.entries(run.settings)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  const out: string[] = [];
  out.push(style === 'markdown' ? '# Action fidelity of the world model' : 'mewm fidelity');
  out.push(
    [
      `cohort ${run.cohortDir} (split ${run.split}): ${summary.cases} patients × ${summary.panelSize} panel protocols × T=${summary.replicas} replicas (seeds shared across protocols; run seed ${run.seed})`,
      `ROI ${run.roi.roiSize.join('x')} at ${run.roi.roiSpacingMm} mm${settings ? `; ${settings}` : ''}`,
      `dynamics ${id(run.models.dynamics)}; assistant ${id(run.models.assistant)}; heuristic ${id(run.models.heuristic)}`,
      `wall time per patient: mean ${f1(summary.secondsPerPatient.mean)} s, median ${f1(summary.secondsPerPatient.median)} s`,
    ]
      .map((l) => (style === 'markdown' ? `- ${l}` : l))
      .join('\n'),
  );

  out.push(h(`Checks (${checks.pass ? 'PASS' : 'FAIL'})`));
  out.push(
    table(
      style,
      ['metric', 'value', 'threshold', 'result'],
      checks.checks.map((c) => [c.description, f3(c.value), `${c.direction} ${c.threshold}`, c.pass ? 'pass' : 'FAIL']),
    ),
  );

  out.push(h('Composition and liver: learned vs truth, same measurement on both post-CTs'));
  out.push(
    table(
      style,
      ['quantity', 'Spearman mean', 'median', 'min', 'max', 'undefined', 'mean |learned − truth|'],
      (Object.keys(QUANTITY_LABELS) as MeasuredQuantity[]).map((q) => {
        const a = summary.spearman[q];
        return [
          QUANTITY_LABELS[q],
          f2(a.mean),
          f2(a.median),
          f2(a.min),
          f2(a.max),
          String(a.undefinedCount),
          q === 'liverShiftHu' ? `${f1(summary.meanAbsError[q])} HU` : f3(summary.meanAbsError[q]),
        ];
      }),
    ),
  );

  out.push(h("Risk: within-patient Spearman against the world's expected risk"));
  out.push(
    table(
      style,
      ['risk', 'mean', 'median', 'min', 'max', 'undefined'],
      RISK_LABELS.map(([name, label]) => {
        const a = summary.spearman[name];
        return [label, f2(a.mean), f2(a.median), f2(a.min), f2(a.max), String(a.undefinedCount)];
      }),
    ),
  );

  out.push(h('Per agent: mean shares viable/necrotic/Lipiodol inside the post tumour label'));
  out.push(
    table(
      style,
      [
        'agent',
        'n with',
        'learned with',
        'truth with',
        'state with',
        'learned without',
        'truth without',
        'vol. ratio learned/truth',
        'liver ΔHU learned/truth',
      ],
      summary.perAgent.map((r) => [
        r.displayName,
        `${r.protocolsWith}/${r.protocolsWith + r.protocolsWithout}`,
        shares(r.learned.with.post),
        shares(r.truth.with.post),
        `${f2(r.state.with.viableFraction)}/${f2(r.state.with.necrosisFraction)}/${f2(r.state.with.lipiodolFraction)}`,
        shares(r.learned.without.post),
        shares(r.truth.without.post),
        `${f2(r.learned.with.post.volumeRatio)}/${f2(r.truth.with.post.volumeRatio)}`,
        `${f1(r.learned.with.liverShiftHu)}/${f1(r.truth.with.liverShiftHu)}`,
      ]),
    ),
  );
  const e = summary.agentShareError;
  out.push(
    `mean over agents of |learned − truth| (protocols with the agent): post tumour label viable ${f3(e.post.viable)}, necrotic ${f3(e.post.necrotic)}, Lipiodol ${f3(e.post.lipiodol)}; ` +
      `pre tumour mask viable-band ${f3(e.pre.viable)}, necrotic ${f3(e.pre.necrotic)}, Lipiodol ${f3(e.pre.lipiodol)}`,
  );

  out.push(h('Per agent: shares viable-band/necrotic/Lipiodol inside the pre-treatment tumour mask (dynamics only)'));
  out.push(
    table(
      style,
      ['agent', 'learned with', 'truth with', 'learned without', 'truth without'],
      summary.perAgent.map((r) => [
        r.displayName,
        shares(r.learned.with.pre),
        shares(r.truth.with.pre),
        shares(r.learned.without.pre),
        shares(r.truth.without.pre),
      ]),
    ),
  );

  out.push(h('Per protocol: means over patients and replicas'));
  out.push(
    table(
      style,
      [
        'protocol',
        'learned V/N/L',
        'truth V/N/L',
        'assistant on truth V/N/L',
        'reconstruction V/N/L',
        'vol. ratio learned/truth/assistant on truth/reconstruction',
        'liver ΔHU learned/truth',
        'learned risk',
        'expected risk',
      ],
      summary.perProtocol.map((r) => [
        r.label,
        shares(r.learned.post),
        shares(r.truth.post),
        r.assistantOnTruth ? shares(r.assistantOnTruth.post) : 'n/a',
        r.reconstruction ? shares(r.reconstruction.post) : 'n/a',
        [r.learned, r.truth, r.assistantOnTruth, r.reconstruction].map((x) => (x ? f2(x.post.volumeRatio) : 'n/a')).join('/'),
        `${f1(r.learned.liverShiftHu)}/${f1(r.truth.liverShiftHu)}`,
        f3(r.learnedRisk),
        f3(r.expectedRisk),
      ]),
    ),
  );

  out.push(h('Per case: Spearman across the panel'));
  out.push(
    table(
      style,
      [
        'case',
        'viable',
        'necrotic',
        'Lipiodol',
        'volume',
        'pre viable',
        'liver',
        'risk e2e',
        '(i) heur.',
        '(r) resp.',
        '(ii) sim',
        '(ii-a) asst.',
        '(ii-b) recon.',
        '(iii) oracle',
        'posterior',
        'state',
        '|Δ| viable',
        '|Δ| liver HU',
        's',
      ],
      summary.perCase.map((c) => [
        c.caseId,
        f2(c.spearman['post.viable']),
        f2(c.spearman['post.necrotic']),
        f2(c.spearman['post.lipiodol']),
        f2(c.spearman['post.volumeRatio']),
        f2(c.spearman['pre.viable']),
        f2(c.spearman.liverShiftHu),
        f2(c.spearman['risk.learned']),
        f2(c.spearman['risk.heuristicOnTruth']),
        f2(c.spearman['risk.worldOnResponse']),
        f2(c.spearman['risk.worldOnSimulated']),
        f2(c.spearman['risk.assistantOnTruth']),
        f2(c.spearman['risk.worldOnReconstruction']),
        f2(c.spearman['risk.worldOnTruth']),
        f2(c.spearman['risk.posteriorOracle']),
        f2(c.spearman['risk.worldOnState']),
        f3(c.meanAbsError['post.viable']),
        f1(c.meanAbsError.liverShiftHu),
        f1(c.seconds),
      ]),
    ),
  );
  return `${out.join('\n\n')}\n`;
}
