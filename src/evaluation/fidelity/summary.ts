/**
 * From the per-replica records of a fidelity run to the numbers it reports: per-patient Spearman
 * correlations across the panel (learned vs truth, and each risk vs the world's expected risk),
 * their mean and median over patients, a per-agent table and a per-case table. Pure.
 *
 * Every quantity is first averaged over the T replicas of a (patient, protocol), then ranked
 * across the panel within the patient. A Spearman correlation is undefined when one side is
 * constant across the panel (a model that ignores the action): it counts as 0 (no ranking
 * information) in the mean and median, and `undefinedCount` says how often that happened.
 */
import { agentInfo, DRUGS, EMBOLICS, protocolAgents, type AgentId } from '../../core/vocabulary';
import { spearman } from '../rank-correlation';
import type { PostMeasures, Shares } from './measure';
import type { CaseRecord, FidelityRun, ProtocolRecord, ReplicaRecord, ReplicaRisks, StateSummary } from './run';

/** Measured quantities compared learned vs truth (the same measurement on both post-CTs). */
export const MEASURED_QUANTITIES = {
  'post.viable': (m: PostMeasures) => m.post.viable,
  'post.necrotic': (m: PostMeasures) => m.post.necrotic,
  'post.lipiodol': (m: PostMeasures) => m.post.lipiodol,
  'post.volumeRatio': (m: PostMeasures) => m.post.volumeRatio,
  'pre.viable': (m: PostMeasures) => m.pre.viable,
  'pre.necrotic': (m: PostMeasures) => m.pre.necrotic,
  'pre.lipiodol': (m: PostMeasures) => m.pre.lipiodol,
  liverShiftHu: (m: PostMeasures) => m.liverShiftHu,
} as const;
export type MeasuredQuantity = keyof typeof MEASURED_QUANTITIES;

/** Risks ranked against the world's expected risk (run.ts says what each isolates). */
export const RISK_QUANTITIES = [
  'learned',
  'heuristicOnTruth',
  'worldOnResponse',
  'worldOnSimulated',
  'assistantOnTruth',
  'worldOnReconstruction',
  'worldOnTruth',
  'posteriorOracle',
  'worldOnState',
] as const satisfies readonly (keyof ReplicaRisks)[];
export type RiskQuantity = (typeof RISK_QUANTITIES)[number];

export type CorrelationName = MeasuredQuantity | `risk.${RiskQuantity}`;

export interface Aggregate {
  readonly mean: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Patients whose correlation was undefined (one side constant across the panel), counted as 0. */
  readonly undefinedCount: number;
}

export interface CaseSummary {
  readonly caseId: string;
  /** Spearman across the panel; null where undefined. */
  readonly spearman: Readonly<Record<CorrelationName, number | null>>;
  /** Mean over the panel of |learned − truth| (replica means). */
  readonly meanAbsError: Readonly<Record<MeasuredQuantity, number>>;
  readonly seconds: number;
}

export interface AgentMeans {
  readonly post: Shares & { readonly volumeRatio: number };
  readonly pre: Shares;
  readonly liverShiftHu: number;
}

export interface AgentRow {
  readonly agent: AgentId;
  readonly displayName: string;
  /** Panel protocols with / without the agent. */
  readonly protocolsWith: number;
  readonly protocolsWithout: number;
  readonly learned: { readonly with: AgentMeans; readonly without: AgentMeans };
  readonly truth: { readonly with: AgentMeans; readonly without: AgentMeans };
  /** The world's ResponseState fractions over the protocols with the agent (reference). */
  readonly state: { readonly with: StateSummary };
}

export interface ProtocolRow {
  readonly key: string;
  readonly label: string;
  /** Means over patients and replicas. */
  readonly learned: AgentMeans;
  readonly truth: AgentMeans;
  /** The true post-CT with the assistant's labels, and the autoencoder's reconstruction of it (null: not measured). */
  readonly assistantOnTruth: AgentMeans | null;
  readonly reconstruction: AgentMeans | null;
  readonly learnedRisk: number;
  readonly expectedRisk: number;
}

export interface FidelitySummary {
  readonly cases: number;
  readonly panelSize: number;
  readonly replicas: number;
  readonly spearman: Readonly<Record<CorrelationName, Aggregate>>;
  readonly perCase: readonly CaseSummary[];
  readonly perAgent: readonly AgentRow[];
  readonly perProtocol: readonly ProtocolRow[];
  /** Mean over the panel's agents of |learned − truth| share over the protocols with the agent. */
  readonly agentShareError: { readonly post: Shares; readonly pre: Shares };
  /** Mean over patients of |learned − truth| per quantity (the panel's mean). */
  readonly meanAbsError: Readonly<Record<MeasuredQuantity, number>>;
  readonly secondsPerPatient: { readonly mean: number; readonly median: number };
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length);
function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function aggregate(values: readonly (number | null)[]): Aggregate {
  const filled = values.map((v) => (v === null ? 0 : v));
  return {
    mean: mean(filled),
    median: median(filled),
    min: Math.min(...filled),
    max: Math.max(...filled),
    undefinedCount: values.filter((v) => v === null).length,
  };
}

const replicaMean = (p: ProtocolRecord, f: (r: ReplicaRecord) => number) => mean(p.replicas.map(f));

function correlation(a: readonly number[], b: readonly number[]): number | null {
  const rho = spearman(a, b);
  return Number.isFinite(rho) ? rho : null;
}

function summariseCase(c: CaseRecord): CaseSummary {
  const spearmans: Partial<Record<CorrelationName, number | null>> = {};
  const errors: Partial<Record<MeasuredQuantity, number>> = {};
  for (const [name, f] of Object.entries(MEASURED_QUANTITIES) as [MeasuredQuantity, (m: PostMeasures) => number][]) {
    const learned = c.protocols.map((p) => replicaMean(p, (r) => f(r.learned)));
    const truth = c.protocols.map((p) => replicaMean(p, (r) => f(r.truth)));
    spearmans[name] = correlation(learned, truth);
    errors[name] = mean(learned.map((v, i) => Math.abs(v - truth[i]!)));
  }
  const expected = c.protocols.map((p) => p.expectedRisk);
  for (const q of RISK_QUANTITIES) {
    // A diagnostic row a run did not measure (older results, a model without an autoencoder) is undefined.
    const measured = c.protocols.every((p) => p.replicas.every((r) => typeof r.risk[q] === 'number'));
    spearmans[`risk.${q}`] = measured
      ? correlation(
          c.protocols.map((p) => replicaMean(p, (r) => r.risk[q] as number)),
          expected,
        )
      : null;
  }
  return {
    caseId: c.caseId,
    spearman: spearmans as Record<CorrelationName, number | null>,
    meanAbsError: errors as Record<MeasuredQuantity, number>,
    seconds: c.seconds.total,
  };
}

function agentMeans(records: readonly ReplicaRecord[], side: 'learned' | 'truth'): AgentMeans {
  return meansOf(records.map((r) => r[side]));
}

function diagnosticMeans(records: readonly ReplicaRecord[], side: 'truthAssistant' | 'reconstruction'): AgentMeans | null {
  const measures = records.map((r) => r[side]);
  return measures.every((x): x is PostMeasures => x !== undefined && x !== null) ? meansOf(measures) : null;
}

function meansOf(measures: readonly PostMeasures[]): AgentMeans {
  const m = (f: (x: PostMeasures) => number) => mean(measures.map(f));
  return {
    post: {
      viable: m((x) => x.post.viable),
      necrotic: m((x) => x.post.necrotic),
      lipiodol: m((x) => x.post.lipiodol),
      volumeRatio: m((x) => x.post.volumeRatio),
    },
    pre: { viable: m((x) => x.pre.viable), necrotic: m((x) => x.pre.necrotic), lipiodol: m((x) => x.pre.lipiodol) },
    liverShiftHu: m((x) => x.liverShiftHu),
  };
}

function stateMeans(records: readonly ReplicaRecord[]): StateSummary {
  const m = (f: (s: StateSummary) => number) => mean(records.map((r) => f(r.state)));
  return {
    viableFraction: m((s) => s.viableFraction),
    necrosisFraction: m((s) => s.necrosisFraction),
    lipiodolFraction: m((s) => s.lipiodolFraction),
    volumeRatio: m((s) => s.volumeRatio),
    viableRatio: m((s) => s.viableRatio),
    toxicity: m((s) => s.toxicity),
    liverShiftHu: m((s) => s.liverShiftHu),
  };
}

/** Rows in vocabulary order (drugs, then embolics) for every agent of the panel; protocol i of a case is panel entry i. */
function perAgentRows(run: FidelityRun): AgentRow[] {
  const panelAgents = run.panel.map((p) => protocolAgents(p.protocol));
  const inPanel = new Set(panelAgents.flat());
  return ([...DRUGS, ...EMBOLICS] as AgentId[])
    .filter((a) => inPanel.has(a))
    .map((agent) => {
      const pick = (has: boolean) => run.cases.flatMap((c) => c.protocols.filter((_, i) => panelAgents[i]!.includes(agent) === has).flatMap((p) => p.replicas));
      const recordsWith = pick(true);
      const recordsWithout = pick(false);
      return {
        agent,
        displayName: agentInfo(agent).displayName,
        protocolsWith: panelAgents.filter((a) => a.includes(agent)).length,
        protocolsWithout: panelAgents.filter((a) => !a.includes(agent)).length,
        learned: { with: agentMeans(recordsWith, 'learned'), without: agentMeans(recordsWithout, 'learned') },
        truth: { with: agentMeans(recordsWith, 'truth'), without: agentMeans(recordsWithout, 'truth') },
        state: { with: stateMeans(recordsWith) },
      };
    });
}

function shareError(rows: readonly AgentRow[], region: 'post' | 'pre'): Shares {
  const e = (f: (s: Shares) => number) => mean(rows.map((r) => Math.abs(f(r.learned.with[region]) - f(r.truth.with[region]))));
  return { viable: e((s) => s.viable), necrotic: e((s) => s.necrotic), lipiodol: e((s) => s.lipiodol) };
}

export function summariseFidelity(run: FidelityRun): FidelitySummary {
  const perCase = run.cases.map(summariseCase);
  const names = [...(Object.keys(MEASURED_QUANTITIES) as MeasuredQuantity[]), ...RISK_QUANTITIES.map((q) => `risk.${q}` as const)];
  const spearmans = Object.fromEntries(names.map((n) => [n, aggregate(perCase.map((c) => c.spearman[n]))])) as Record<CorrelationName, Aggregate>;
  const errors = Object.fromEntries(
    (Object.keys(MEASURED_QUANTITIES) as MeasuredQuantity[]).map((n) => [n, mean(perCase.map((c) => c.meanAbsError[n]))]),
  ) as Record<MeasuredQuantity, number>;
  const perAgent = perAgentRows(run);
  const perProtocol = run.panel.map((entry, i): ProtocolRow => {
    const records = run.cases.flatMap((c) => c.protocols[i]!.replicas);
    return {
      key: entry.key,
      label: entry.label,
      learned: agentMeans(records, 'learned'),
      truth: agentMeans(records, 'truth'),
      assistantOnTruth: diagnosticMeans(records, 'truthAssistant'),
      reconstruction: diagnosticMeans(records, 'reconstruction'),
      learnedRisk: mean(records.map((r) => r.risk.learned)),
      expectedRisk: mean(run.cases.map((c) => c.protocols[i]!.expectedRisk)),
    };
  });
  const totals = run.cases.map((c) => c.seconds.total);
  return {
    cases: run.cases.length,
    panelSize: run.panel.length,
    replicas: run.replicas,
    spearman: spearmans,
    perCase,
    perAgent,
    perProtocol,
    agentShareError: { post: shareError(perAgent, 'post'), pre: shareError(perAgent, 'pre') },
    meanAbsError: errors,
    secondsPerPatient: { mean: mean(totals), median: median(totals) },
  };
}
