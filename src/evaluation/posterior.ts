/**
 * The posterior oracle's parts of `mewm evaluate` that need no planner (src/world/posterior.ts):
 *
 * - `posterior-optimal`: per case, the valid protocol (within the cohort's horizons) with the lowest
 *   posterior expected risk, by exhaustive ranking: the best an image-based choice can do without
 *   Algorithm 1's search limits (the posterior analogue of `optimal`).
 * - `tables/posterior-oracle.{md,csv}`: the estimator's Monte-Carlo error for every posterior row
 *   (mewm-posterior-oracle and its ablations, posterior-optimal), per case for its chosen protocol:
 *   the standard error of R̂, the paired standard error of R̂(chosen) − R̂(physician's), and the
 *   change of R̂(chosen) with a second, independent set of K draws (seed + 1).
 *
 * The same K and seed as the planned row, so the numbers are those its heuristic returned.
 */
import { protocolKey, type Protocol } from '../core/vocabulary';
import type { CaseTruth, MethodPredictions, ResultFile } from './evaluate';
import { fixed, toCsv, toMarkdown, type Table } from './tables';
import { candidateProtocols } from '../world/gold';
import type { Phenotype } from '../world/phenotype';
import { pairedDifference, PosteriorRiskTable, samplePosterior, visiblePhenotype } from '../world/posterior';

/** Posterior draws and memoised risks per case, for one (K, seed). */
export class PosteriorTables {
  private readonly tables = new Map<string, PosteriorRiskTable>();

  constructor(
    private readonly phenotypes: ReadonlyMap<string, Phenotype>,
    readonly options: { readonly draws: number; readonly seed: number },
  ) {}

  /** The same cases with another, independent set of draws. */
  reseeded(seed: number): PosteriorTables {
    return new PosteriorTables(this.phenotypes, { ...this.options, seed });
  }

  of(caseId: string): PosteriorRiskTable | undefined {
    let table = this.tables.get(caseId);
    if (!table) {
      const phenotype = this.phenotypes.get(caseId);
      if (!phenotype) return undefined;
      table = new PosteriorRiskTable(samplePosterior(visiblePhenotype(phenotype), this.options));
      this.tables.set(caseId, table);
    }
    return table;
  }
}

/** The valid protocol with the lowest posterior expected risk, per case (ties: protocol key order). */
export function posteriorOptimalMethod(
  truth: readonly CaseTruth[],
  tables: PosteriorTables,
  horizons: { readonly maxDrugs: number; readonly maxEmbolics: number },
): MethodPredictions {
  const protocols = candidateProtocols(horizons);
  return {
    method: 'posterior-optimal',
    label: `Posterior-optimal protocol (pre-CT only, exhaustive, K = ${tables.options.draws})`,
    kind: 'reference',
    predictions: truth.map((t) => {
      const table = tables.of(t.caseId);
      if (!table) return { caseId: t.caseId, protocol: null };
      let best: { protocol: Protocol; risk: number; key: string } | null = null;
      for (const protocol of protocols) {
        const risk = table.risk(protocol).mean;
        const key = protocolKey(protocol);
        if (!best || risk < best.risk || (risk === best.risk && key < best.key)) best = { protocol, risk, key };
      }
      return { caseId: t.caseId, protocol: best!.protocol, predictedRisk: best!.risk };
    }),
  };
}

const isPosteriorRow = (m: MethodPredictions) =>
  m.method === 'posterior-optimal' || (m.method.startsWith('mewm-posterior-oracle') && m.method !== 'mewm-posterior-oracle-known-biology');

const mean = (xs: readonly number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length);

/** The Monte-Carlo error table of the posterior rows (none when there is no posterior row). */
export function posteriorErrorFiles(
  methods: readonly MethodPredictions[],
  truth: readonly CaseTruth[],
  tables: PosteriorTables,
  options: { readonly draws: number; readonly seed: number },
  log: (line: string) => void = () => {},
): ResultFile[] {
  const rows = methods.filter(isPosteriorRow);
  if (rows.length === 0) return [];
  const physician = new Map(truth.map((t) => [t.caseId, t.physicianProtocol]));
  const other = tables.reseeded((options.seed + 1) >>> 0);
  const data: (string | number)[][] = [];
  for (const m of rows) {
    const se: number[] = [];
    const pairedSe: number[] = [];
    const difference: number[] = [];
    const reseeded: number[] = [];
    const proposals: number[] = [];
    for (const p of m.predictions) {
      const table = tables.of(p.caseId);
      if (!p.protocol || !table) continue;
      const own = table.risk(p.protocol);
      se.push(own.standardError);
      const ref = physician.get(p.caseId)!;
      const paired = pairedDifference(table.sample, p.protocol, ref);
      pairedSe.push(paired.standardError);
      difference.push(paired.mean);
      reseeded.push(Math.abs(other.of(p.caseId)!.risk(p.protocol).mean - own.mean));
      proposals.push(table.sample.proposalsPerDraw);
    }
    const max = (xs: number[]) => (xs.length === 0 ? Number.NaN : Math.max(...xs));
    data.push([m.method, se.length, mean(se), max(se), mean(pairedSe), max(pairedSe), mean(difference), mean(reseeded), max(reseeded), mean(proposals)]);
    log(
      `posterior MC error, ${m.method}: SE of R̂(chosen) mean ${fixed(mean(se), 4)} (max ${fixed(max(se), 4)}); paired SE of R̂(chosen) − R̂(physician) mean ${fixed(mean(pairedSe), 4)}; |R̂ seed ${options.seed} − R̂ seed ${(options.seed + 1) >>> 0}| mean ${fixed(mean(reseeded), 4)}`,
    );
  }
  const columns = [
    'method',
    'cases',
    'se_mean',
    'se_max',
    'paired_se_vs_physician_mean',
    'paired_se_vs_physician_max',
    'posterior_gain_vs_physician_mean',
    'reseed_abs_change_mean',
    'reseed_abs_change_max',
    'proposals_per_draw_mean',
  ];
  const csv: Table = { title: 'posterior-oracle', columns, rows: data };
  const display: Table = {
    title: `Posterior oracle: Monte-Carlo error of the estimator (K = ${options.draws} draws per case, seed ${options.seed})`,
    columns: [
      'Method',
      'n',
      'SE of R̂(chosen), mean (max)',
      'paired SE of R̂(chosen) − R̂(physician), mean (max)',
      'R̂(chosen) − R̂(physician), mean',
      `abs change of R̂(chosen) with seed ${(options.seed + 1) >>> 0}, mean (max)`,
      'prior proposals per draw',
    ],
    rows: data.map((r) => [
      r[0]!,
      r[1]!,
      `${fixed(r[2] as number, 4)} (${fixed(r[3] as number, 4)})`,
      `${fixed(r[4] as number, 4)} (${fixed(r[5] as number, 4)})`,
      fixed(r[6] as number, 3),
      `${fixed(r[7] as number, 4)} (${fixed(r[8] as number, 4)})`,
      fixed(r[9] as number, 1),
    ]),
    notes: [
      "R̂(p) = mean over K posterior draws of the hidden biology of the world's expectedRisk(draw, p); SE = sd over draws / √K (src/world/posterior.ts)",
      "paired: the same draws for both protocols (the patient-level terms cancel); what decides the planner's choice",
    ],
  };
  return [
    { path: 'tables/posterior-oracle.md', content: toMarkdown(display), description: "the posterior oracle's Monte-Carlo error per posterior row" },
    { path: 'tables/posterior-oracle.csv', content: toCsv(csv), description: "the posterior oracle's Monte-Carlo error per posterior row (data)" },
  ];
}
