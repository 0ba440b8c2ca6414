/**
 * The patient report: one self-contained HTML page per plan (no external requests; images are
 * inlined as data URLs), for a physician to see what the world model imagined and why the
 * planner chose what it chose. Input is a minimal view of the plan's audit record; the CLI
 * (`mewm report`) fills it from the workflow result and the artifact store.
 *
 * Everything textual is HTML-escaped; images must be PNG bytes (checked by signature).
 */
import { MewmError } from '../core/errors';
import { protocolKey, protocolLabel, type Protocol } from '../core/vocabulary';
import { riskBarsFigure, type RiskBarTag } from './plots/risk-bars';
import { figureToPng } from './plots/raster';

export const SYNTHETIC_BANNER = 'Demo models trained on synthetic data — not for clinical use.';

export interface ReportImage {
  readonly caption: string;
  /** PNG bytes. */
  readonly png: Uint8Array;
}

export interface ReportModel {
  readonly role: string;
  readonly backend: string;
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

export interface ReportCandidate {
  readonly key: string;
  readonly beam: number;
  /** The agent this candidate adds to its beam. */
  readonly agent: string;
  readonly protocol: Protocol;
  readonly meanRisk: number;
  /** Replica spread of the risk (e.g. standard deviation over T replicas). */
  readonly spreadRisk: number;
  readonly replicaRisks?: readonly number[];
  /** Simulated post-treatment CT of the best (lowest-risk) replica, with predicted tumour outline. */
  readonly bestReplica?: ReportImage;
  /** Optional picture of the replica spread (e.g. per-voxel standard deviation or a montage of replicas). */
  readonly spreadImage?: ReportImage;
}

export interface ReportBeam {
  readonly slot: number;
  readonly protocol: Protocol;
  readonly risk: number | null;
}

export interface ReportStep {
  readonly phase: 'drug' | 'embolic';
  readonly step: number;
  readonly beamsBefore: readonly ReportBeam[];
  readonly beamsAfter: readonly ReportBeam[];
  readonly candidates: readonly ReportCandidate[];
  readonly pruned: readonly { readonly agent: string; readonly reason: string }[];
  /** Human-readable note on beam replacement, if one happened. */
  readonly replacement?: string;
}

export interface PlanAuditRecord {
  readonly caseId: string;
  readonly planId: string;
  readonly createdAt?: string;
  readonly goal?: string;
  readonly observationSummary?: string;
  readonly chosen: { readonly protocol: Protocol; readonly risk: number; readonly spreadRisk?: number };
  /** Pre-treatment CT slices with the tumour outline. */
  readonly preCt: readonly ReportImage[];
  readonly steps: readonly ReportStep[];
  readonly models: readonly ReportModel[];
  readonly policy?: { readonly name: string; readonly version: string; readonly models?: readonly string[] };
  /** Prompt template name → version. */
  readonly promptVersions?: Readonly<Record<string, string>>;
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function dataUrl(image: ReportImage, where: string): string {
  const bytes = image.png;
  if (bytes.length < PNG_SIGNATURE.length || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new MewmError('InvalidInput', `report: image "${image.caption}" (${where}) is not a PNG`);
  }
  return `data:image/png;base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function figureHtml(image: ReportImage, where: string, className = 'slice'): string {
  return `<figure class="${className}"><img src="${dataUrl(image, where)}" alt="${escapeHtml(image.caption)}"><figcaption>${escapeHtml(image.caption)}</figcaption></figure>`;
}

function risk(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(4);
}

function beamsTable(beams: readonly ReportBeam[]): string {
  if (beams.length === 0) return '<p class="muted">(none)</p>';
  const rows = beams.map((b) => `<tr><td>${b.slot}</td><td>${escapeHtml(protocolLabel(b.protocol))}</td><td class="num">${risk(b.risk)}</td></tr>`).join('');
  return `<table><thead><tr><th>beam</th><th>protocol</th><th>risk</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function stepHtml(step: ReportStep, chosenKey: string, index: number): string {
  const ordered = [...step.candidates].sort((a, b) => a.meanRisk - b.meanRisk);
  const rows = ordered
    .map((c) => {
      const isChosen = protocolKey(c.protocol) === chosenKey;
      const replicas = c.replicaRisks ? c.replicaRisks.map((r) => r.toFixed(3)).join(', ') : '';
      return `<tr${isChosen ? ' class="chosen"' : ''}><td>${c.beam}</td><td>+ ${escapeHtml(c.agent)}</td><td>${escapeHtml(protocolLabel(c.protocol))}</td><td class="num">${risk(c.meanRisk)}</td><td class="num">± ${risk(c.spreadRisk)}</td><td class="muted">${escapeHtml(replicas)}</td></tr>`;
    })
    .join('');
  const images = ordered
    .flatMap((c, k) => [
      ...(c.bestReplica ? [figureHtml(c.bestReplica, `step ${index} candidate ${k}`)] : []),
      ...(c.spreadImage ? [figureHtml(c.spreadImage, `step ${index} candidate ${k} spread`)] : []),
    ])
    .join('');
  const pruned = step.pruned.length
    ? `<p><strong>Pruned by clinical rules:</strong> ${step.pruned.map((p) => `${escapeHtml(p.agent)} (${escapeHtml(p.reason)})`).join('; ')}</p>`
    : '';
  return `<section class="step" id="step-${index}">
<h3>Step ${index + 1}: ${step.phase} horizon, step ${step.step}</h3>
<div class="two"><div><h4>Beams before</h4>${beamsTable(step.beamsBefore)}</div><div><h4>Beams after</h4>${beamsTable(step.beamsAfter)}</div></div>
<h4>Candidates (simulated, scored; lower risk is better)</h4>
<table><thead><tr><th>beam</th><th>adds</th><th>protocol</th><th>mean risk</th><th>spread</th><th>replica risks</th></tr></thead><tbody>${rows}</tbody></table>
${pruned}${step.replacement ? `<p><strong>Beam replacement:</strong> ${escapeHtml(step.replacement)}</p>` : ''}
${images ? `<h4>Simulated post-treatment CT (best replica per candidate)</h4><div class="gallery">${images}</div>` : ''}
</section>`;
}

/** Renders the report; throws InvalidInput on non-PNG images or an empty record. */
export function renderPlanReport(record: PlanAuditRecord): string {
  if (!record.caseId) throw new MewmError('InvalidInput', 'report: the audit record has no case id');
  const chosenKey = protocolKey(record.chosen.protocol);
  const finalCandidates = new Map<string, ReportCandidate>();
  for (const step of record.steps) for (const c of step.candidates) finalCandidates.set(protocolKey(c.protocol), c);
  const bars = [...finalCandidates.values()].sort((a, b) => a.meanRisk - b.meanRisk).slice(0, 20);
  const chart =
    bars.length > 0
      ? figureHtml(
          {
            caption: 'Predicted risk of every explored candidate (best 20): replica mean and spread',
            png: figureToPng(
              riskBarsFigure({
                title: `${record.caseId}: predicted risk per explored candidate`,
                bars: bars.map((c) => ({
                  label: protocolLabel(c.protocol),
                  mean: c.meanRisk,
                  lower: c.meanRisk - c.spreadRisk,
                  upper: c.meanRisk + c.spreadRisk,
                  tags: protocolKey(c.protocol) === chosenKey ? (['chosen'] as RiskBarTag[]) : [],
                })),
              }),
            ),
          },
          'risk chart',
          'chart',
        )
      : '';
  const models = record.models
    .map(
      (m) =>
        `<tr><td>${escapeHtml(m.role)}</td><td>${escapeHtml(m.backend)}</td><td>${escapeHtml(m.name)}</td><td>${escapeHtml(m.version)}</td><td class="hash">${escapeHtml(m.sha256)}</td></tr>`,
    )
    .join('');
  const prompts = Object.entries(record.promptVersions ?? {})
    .map(([name, version]) => `<tr><td>${escapeHtml(name)}</td><td>${escapeHtml(version)}</td></tr>`)
    .join('');
  const settings = Object.entries(record.settings ?? {})
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(String(v))}</td></tr>`)
    .join('');
  const title = `MeWM plan report — ${record.caseId}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #fafafa; }
main { max-width: 1200px; margin: 0 auto; padding: 0 24px 48px; }
.banner { position: sticky; top: 0; z-index: 1; background: #b00020; color: #fff; font-weight: 700; padding: 10px 24px; text-align: center; }
h1 { font-size: 1.5rem; margin-top: 24px; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 32px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.hash { font-family: monospace; font-size: 0.75rem; word-break: break-all; }
tr.chosen td { background: #e7f5e7; font-weight: 600; }
.muted { color: #777; }
.chosen-box { border: 2px solid #2ca02c; background: #fff; padding: 12px 16px; border-radius: 6px; }
.gallery { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; padding: 6px; }
figure.slice img { width: 220px; height: auto; image-rendering: pixelated; display: block; }
figure.chart img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.8rem; color: #555; max-width: 220px; }
figure.chart figcaption { max-width: none; }
.two { display: flex; gap: 32px; flex-wrap: wrap; }
.step { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px 16px; margin: 16px 0; }
</style>
</head>
<body>
<div class="banner" role="alert" id="synthetic-banner">${escapeHtml(SYNTHETIC_BANNER)}</div>
<main>
<h1>${escapeHtml(title)}</h1>
<p class="muted">Plan ${escapeHtml(record.planId)}${record.createdAt ? ` · ${escapeHtml(record.createdAt)}` : ''}${record.goal ? ` · goal: ${escapeHtml(record.goal)}` : ''}</p>
<div class="chosen-box" id="chosen-protocol"><strong>Chosen protocol:</strong> ${escapeHtml(protocolLabel(record.chosen.protocol))} · predicted risk ${risk(record.chosen.risk)}${record.chosen.spreadRisk !== undefined ? ` ± ${risk(record.chosen.spreadRisk)}` : ''}</div>
${record.observationSummary ? `<p>${escapeHtml(record.observationSummary)}</p>` : ''}
<h2>Pre-treatment CT</h2>
<div class="gallery">${record.preCt.map((img, i) => figureHtml(img, `pre-CT ${i}`)).join('')}</div>
<h2>Risk of the explored candidates</h2>
${chart || '<p class="muted">No candidates were recorded.</p>'}
<h2>Beam search, step by step</h2>
${record.steps.map((s, i) => stepHtml(s, chosenKey, i)).join('\n') || '<p class="muted">No steps were recorded.</p>'}
<h2>Models and prompts</h2>
<table><thead><tr><th>role</th><th>backend</th><th>name</th><th>version</th><th>sha256</th></tr></thead><tbody>${models}</tbody></table>
${record.policy ? `<p>Policy: ${escapeHtml(record.policy.name)} ${escapeHtml(record.policy.version)}${record.policy.models?.length ? ` (${record.policy.models.map(escapeHtml).join(', ')})` : ''}</p>` : ''}
${prompts ? `<table><thead><tr><th>prompt</th><th>version</th></tr></thead><tbody>${prompts}</tbody></table>` : ''}
${settings ? `<h2>Settings</h2><table><tbody>${settings}</tbody></table>` : ''}
<p class="muted">${escapeHtml(SYNTHETIC_BANNER)}</p>
</main>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------
// Second reader: a physician's protocol next to MeWM's

export interface ComparedProtocol {
  /** e.g. "Physician" or "MeWM". */
  readonly role: string;
  readonly protocol: Protocol;
  /** Predicted risk per replica (lower is better). */
  readonly replicaRisks: readonly number[];
  /** Simulated post-treatment CT per replica (same order), with the predicted tumour outline. */
  readonly replicas: readonly ReportImage[];
}

export interface ComparisonRecord {
  readonly caseId: string;
  readonly preCt: readonly ReportImage[];
  readonly proposed: ComparedProtocol;
  readonly reference: ComparedProtocol;
  readonly models: readonly ReportModel[];
  readonly seed: number;
}

export interface RiskSummary {
  readonly mean: number;
  /** Sample standard deviation over replicas (0 for one replica). */
  readonly sd: number;
}

export function summariseRisks(risks: readonly number[]): RiskSummary {
  if (risks.length === 0 || !risks.every(Number.isFinite)) throw new MewmError('InvalidInput', 'risk summary needs at least one finite replica risk');
  const mean = risks.reduce((a, b) => a + b, 0) / risks.length;
  const sd = risks.length > 1 ? Math.sqrt(risks.reduce((a, r) => a + (r - mean) ** 2, 0) / (risks.length - 1)) : 0;
  return { mean, sd };
}

export function renderComparisonReport(record: ComparisonRecord): string {
  const a = summariseRisks(record.proposed.replicaRisks);
  const b = summariseRisks(record.reference.replicaRisks);
  const difference = a.mean - b.mean;
  const column = (c: ComparedProtocol, s: RiskSummary, tag: string) => `<div class="col">
<h2>${escapeHtml(c.role)}: ${escapeHtml(protocolLabel(c.protocol))}</h2>
<p>Predicted risk <strong>${risk(s.mean)}</strong> ± ${risk(s.sd)} (sd over ${c.replicaRisks.length} replicas)</p>
<div class="gallery">${c.replicas.map((img, i) => figureHtml(img, `${tag} replica ${i}`)).join('')}</div></div>`;
  const models = record.models
    .map(
      (m) =>
        `<tr><td>${escapeHtml(m.role)}</td><td>${escapeHtml(m.backend)}</td><td>${escapeHtml(m.name)}</td><td>${escapeHtml(m.version)}</td><td class="hash">${escapeHtml(m.sha256)}</td></tr>`,
    )
    .join('');
  const verdict =
    Math.abs(difference) <= Math.max(a.sd, b.sd)
      ? 'The difference is within the replica spread.'
      : difference > 0
        ? `${record.proposed.role}'s protocol has the higher predicted risk.`
        : `${record.proposed.role}'s protocol has the lower predicted risk.`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${escapeHtml(`MeWM second reader — ${record.caseId}`)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
main { max-width: 1200px; margin: 0 auto; padding: 0 24px 48px; }
.banner { background: #b00020; color: #fff; font-weight: 700; padding: 10px 24px; text-align: center; }
.cols { display: flex; gap: 24px; flex-wrap: wrap; }
.col { flex: 1 1 420px; background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px 16px; }
.gallery { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 0; border: 1px solid #ddd; padding: 4px; background: #fff; }
figure img { width: 180px; image-rendering: pixelated; display: block; }
figcaption { font-size: 0.75rem; color: #555; max-width: 180px; }
table { border-collapse: collapse; font-size: 0.85rem; }
td, th { border-bottom: 1px solid #e3e3e3; padding: 3px 8px; text-align: left; }
td.hash { font-family: monospace; font-size: 0.7rem; word-break: break-all; }
</style>
</head>
<body>
<div class="banner" role="alert" id="synthetic-banner">${escapeHtml(SYNTHETIC_BANNER)}</div>
<main>
<h1>${escapeHtml(`Second reader — ${record.caseId}`)}</h1>
<p id="difference">Predicted risk difference (${escapeHtml(record.proposed.role)} − ${escapeHtml(record.reference.role)}): <strong>${difference >= 0 ? '+' : ''}${difference.toFixed(4)}</strong>. ${escapeHtml(verdict)}</p>
<h2>Pre-treatment CT</h2>
<div class="gallery">${record.preCt.map((img, i) => figureHtml(img, `pre-CT ${i}`)).join('')}</div>
<div class="cols">${column(record.proposed, a, 'proposed')}${column(record.reference, b, 'reference')}</div>
<h2>Models</h2>
<table><thead><tr><th>role</th><th>backend</th><th>name</th><th>version</th><th>sha256</th></tr></thead><tbody>${models}</tbody></table>
<p>Replica seeds derived from seed ${record.seed}.</p>
</main>
</body>
</html>
`;
}
