/**
 * World statistics: evidence that the synthetic world is not trivial (the best protocol depends
 * on the patient, and choosing well matters). Computed from the truth only (no images).
 */
import { agentInfo, protocolAgents, protocolLabel, type AgentId } from '../core/vocabulary';
import { generatePatientTruth } from './cohort';
import { DEFAULT_HORIZONS, type Horizons } from './gold';

export interface WorldStatistics {
  readonly seed: number;
  readonly patients: number;
  readonly candidateProtocols: number;
  readonly distinctGold: number;
  readonly modalGold: { readonly label: string; readonly share: number };
  readonly goldDiffersFromModalShare: number;
  readonly topGold: ReadonlyArray<{ readonly label: string; readonly count: number }>;
  readonly goldDrugCount: Readonly<Record<string, number>>;
  readonly goldEmbolicCount: Readonly<Record<string, number>>;
  readonly goldAgentShare: ReadonlyArray<{ readonly agent: string; readonly share: number }>;
  /** Quantiles [min, q25, median, q75, max] of per-patient risk differences. */
  readonly worstMinusBest: readonly number[];
  readonly medianMinusBest: readonly number[];
  readonly physicianMinusBest: readonly number[];
  readonly physicianIsGoldShare: number;
  readonly goldIsHeaviestShare: number;
  readonly bestHeaviestMinusBest: readonly number[];
}

function quantiles(values: number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))]!;
  return [at(0), at(0.25), at(0.5), at(0.75), at(1)];
}

export function worldStatistics(seed: number, patients: number, horizons: Horizons = DEFAULT_HORIZONS): WorldStatistics {
  const goldCounts = new Map<string, number>();
  const agentCounts = new Map<AgentId, number>();
  const drugCount: Record<string, number> = {};
  const embolicCount: Record<string, number> = {};
  const worst: number[] = [];
  const median: number[] = [];
  const physician: number[] = [];
  const heaviest: number[] = [];
  let physicianIsGold = 0;
  let goldIsHeaviest = 0;
  let candidates = 0;
  for (let index = 1; index <= patients; index++) {
    const truth = generatePatientTruth(seed, index, horizons);
    const { ranked } = truth;
    candidates = ranked.length;
    const best = ranked[0]!;
    const label = protocolLabel(best.protocol);
    goldCounts.set(label, (goldCounts.get(label) ?? 0) + 1);
    for (const agent of protocolAgents(best.protocol)) agentCounts.set(agent, (agentCounts.get(agent) ?? 0) + 1);
    drugCount[best.protocol.drugs.length] = (drugCount[best.protocol.drugs.length] ?? 0) + 1;
    embolicCount[best.protocol.embolics.length] = (embolicCount[best.protocol.embolics.length] ?? 0) + 1;
    worst.push(ranked[ranked.length - 1]!.risk - best.risk);
    median.push(ranked[ranked.length >> 1]!.risk - best.risk);
    physician.push(truth.physicianExpectedRisk - best.risk);
    if (protocolLabel(truth.physician) === label) physicianIsGold++;
    const isHeaviest = (p: typeof best) => p.protocol.drugs.length === horizons.maxDrugs && p.protocol.embolics.length === horizons.maxEmbolics;
    if (isHeaviest(best)) goldIsHeaviest++;
    heaviest.push(ranked.find(isHeaviest)!.risk - best.risk);
  }
  const sortedGold = [...goldCounts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const modal = sortedGold[0]!;
  return {
    seed,
    patients,
    candidateProtocols: candidates,
    distinctGold: goldCounts.size,
    modalGold: { label: modal[0], share: modal[1] / patients },
    goldDiffersFromModalShare: 1 - modal[1] / patients,
    topGold: sortedGold.slice(0, 5).map(([label, count]) => ({ label, count })),
    goldDrugCount: drugCount,
    goldEmbolicCount: embolicCount,
    goldAgentShare: [...agentCounts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([agent, count]) => ({ agent: agentInfo(agent).displayName, share: count / patients })),
    worstMinusBest: quantiles(worst),
    medianMinusBest: quantiles(median),
    physicianMinusBest: quantiles(physician),
    physicianIsGoldShare: physicianIsGold / patients,
    goldIsHeaviestShare: goldIsHeaviest / patients,
    bestHeaviestMinusBest: quantiles(heaviest),
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const q5 = (q: readonly number[]) => `${q[2]!.toFixed(2)} [${q[1]!.toFixed(2)}, ${q[3]!.toFixed(2)}] (min ${q[0]!.toFixed(2)}, max ${q[4]!.toFixed(2)})`;

/** Markdown tables for the README. Risks are log-hazard units (lower is better). */
export function formatStatisticsMarkdown(s: WorldStatistics): string {
  const lines = [
    `World statistics: seed ${s.seed}, ${s.patients} patients, ${s.candidateProtocols} rule-valid protocols per patient (≤ 2 drugs, ≤ 2 embolics).`,
    'Risk = true expected log-hazard (lower is better); differences shown as median [IQR] (min, max).',
    '',
    '| statistic | value |',
    '|---|---|',
    `| distinct gold protocols | ${s.distinctGold} of ${s.patients} patients |`,
    `| most common gold protocol | ${s.modalGold.label} (${pct(s.modalGold.share)}) |`,
    `| patients whose gold differs from the most common one | ${pct(s.goldDiffersFromModalShare)} |`,
    `| gold uses 1 / 2 drugs | ${s.goldDrugCount['1'] ?? 0} / ${s.goldDrugCount['2'] ?? 0} |`,
    `| gold uses 1 / 2 embolics | ${s.goldEmbolicCount['1'] ?? 0} / ${s.goldEmbolicCount['2'] ?? 0} |`,
    `| risk: worst − best valid protocol | ${q5(s.worstMinusBest)} |`,
    `| risk: median − best valid protocol | ${q5(s.medianMinusBest)} |`,
    `| risk: physician's protocol − best | ${q5(s.physicianMinusBest)} |`,
    `| physician's protocol is the gold one | ${pct(s.physicianIsGoldShare)} |`,
    `| gold is a maximal (2 drugs + 2 embolics) protocol | ${pct(s.goldIsHeaviestShare)} |`,
    `| risk: best maximal protocol − best | ${q5(s.bestHeaviestMinusBest)} |`,
    '',
    '| most common gold protocols | patients |',
    '|---|---|',
    ...s.topGold.map((g) => `| ${g.label} | ${g.count} |`),
    '',
    '| agent | share of gold protocols containing it |',
    '|---|---|',
    ...s.goldAgentShare.map((a) => `| ${a.agent} | ${pct(a.share)} |`),
  ];
  return `${lines.join('\n')}\n`;
}
