/**
 * The action-fidelity evaluation (src/evaluation/fidelity): the panel covers what it claims, the
 * measurements read what the world renders, and the checks have teeth both ways — the world's own
 * truth behind the model contract passes them, and the same truth with a dynamics model that
 * ignores the action fails them (the negative control CI keeps). A constant heuristic shows the
 * decomposition blames the right model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagonalAffine, makeVolume, type LabelledCt } from '../../src/core/volume/volume';
import { fidelityChecks, ISSUE_10_TARGETS, type FidelityThresholds } from '../../src/evaluation/fidelity/checks';
import { ignoringAction, withDynamics } from '../../src/evaluation/fidelity/controls';
import { measurePost } from '../../src/evaluation/fidelity/measure';
import { FIDELITY_PANEL, panelCoverage } from '../../src/evaluation/fidelity/panel';
import { renderFidelityReport } from '../../src/evaluation/fidelity/report';
import { runFidelity, type FidelityRun } from '../../src/evaluation/fidelity/run';
import { summariseFidelity, type FidelitySummary } from '../../src/evaluation/fidelity/summary';
import type { DynamicsModel, WorldModel } from '../../src/models/world-model';
import { expectedRisk } from '../../src/world/survival';
import { readFidelityCohort } from '../../src/evaluation/fidelity/cohort';
import { createOracleWorldModel } from '../../src/world/oracle';
import { FIXTURE_THRESHOLDS, writeFidelityCohort } from './fidelity-fixture';

describe('fidelity panel', () => {
  it('has at least 12 rule-valid protocols covering every drug class and every embolic agent', () => {
    expect(FIDELITY_PANEL.length).toBeGreaterThanOrEqual(12);
    expect(panelCoverage(FIDELITY_PANEL)).toEqual({ missingDrugClasses: [], missingEmbolics: [], invalid: [], duplicates: [] });
    for (const entry of FIDELITY_PANEL) expect(entry.why.length).toBeGreaterThan(20);
  });

  it('reports what a shorter panel misses', () => {
    const withoutAlcoholOrAntibiotic = FIDELITY_PANEL.filter(
      (e) => !e.protocol.embolics.includes('absolute-alcohol') && !e.protocol.drugs.includes('mitomycin'),
    );
    const coverage = panelCoverage([...withoutAlcoholOrAntibiotic, FIDELITY_PANEL[0]!]);
    expect(coverage.missingDrugClasses).toEqual(['antitumour-antibiotic']);
    expect(coverage.missingEmbolics).toEqual(['absolute-alcohol']);
    expect(coverage.duplicates).toEqual(['epirubicin|lipiodol']);
  });
});

describe('measurePost', () => {
  // Six voxels in a row: pre tumour 0–3, pre liver 4–5.
  const grid = (values: number[]) => makeVolume(Float32Array.from(values), [6, 1, 1], diagonalAffine([1, 1, 1], [0, 0, 0]));
  const labels = (values: number[]) => makeVolume(Uint8Array.from(values), [6, 1, 1], diagonalAffine([1, 1, 1], [0, 0, 0]));
  const pre: LabelledCt = { ct: grid([100, 100, 100, 100, 70, 72]), labels: labels([2, 2, 2, 2, 1, 1]) };

  it('splits the post tumour label and the pre tumour mask into the world’s HU bands, and measures the liver shift on pre liver voxels', () => {
    // post: Lipiodol 300, viable 80, necrotic 20 in the post label; voxel 3 (70 HU) left the label (vacated bed).
    const m = measurePost(pre, { ct: grid([300, 80, 20, 70, 60, 62]), labels: labels([2, 2, 2, 1, 1, 1]) });
    expect(m.post.viable).toBeCloseTo(1 / 3, 12);
    expect(m.post.necrotic).toBeCloseTo(1 / 3, 12);
    expect(m.post.lipiodol).toBeCloseTo(1 / 3, 12);
    expect(m.post.volumeRatio).toBe(0.75);
    expect(m.pre).toEqual({ viable: 0.5, necrotic: 0.25, lipiodol: 0.25 });
    expect(m.liverShiftHu).toBeCloseTo(-10, 6);
    expect(m.toxicity).toBeCloseTo(10 / 14, 6);
    expect(m.viableRatio).toBeCloseTo(0.25, 12);
  });

  it('gives empty shares (not NaN) when the assistant finds no tumour, and no toxicity when the liver brightens', () => {
    const m = measurePost(pre, { ct: grid([300, 80, 20, 70, 80, 82]), labels: labels([1, 1, 1, 1, 1, 1]) });
    expect(m.post).toEqual({ viable: 0, necrotic: 0, lipiodol: 0, volumeRatio: 0 });
    expect(m.liverShiftHu).toBeCloseTo(10, 6);
    expect(m.toxicity).toBe(0);
  });
});

describe('fidelityChecks', () => {
  const summary = (viable: number, risk: number, lipiodol: number, necrotic: number) =>
    ({
      spearman: { 'post.viable': { mean: viable }, 'risk.learned': { mean: risk }, liverShiftHu: { mean: 0.2 } },
      agentShareError: { post: { viable: 0, lipiodol, necrotic } },
    }) as unknown as FidelitySummary;
  const cases: [string, FidelitySummary, boolean, string[]][] = [
    ['all targets met', summary(0.8, 0.6, 0.05, 0.09), true, []],
    ['viable Spearman just short', summary(0.69, 0.6, 0.05, 0.09), false, ['minViableShareSpearman']],
    ['share errors too large', summary(0.8, 0.6, 0.11, 0.2), false, ['maxLipiodolShareError', 'maxNecrosisShareError']],
    ['NaN fails', summary(Number.NaN, 0.6, 0.05, 0.09), false, ['minViableShareSpearman']],
  ];
  it.each(cases)('%s', (_, s, pass, failing) => {
    const result = fidelityChecks(s, ISSUE_10_TARGETS);
    expect(result.pass).toBe(pass);
    expect(result.checks.filter((c) => !c.pass).map((c) => c.metric)).toEqual(failing);
  });
  it('checks only the thresholds it is given', () => {
    const thresholds: FidelityThresholds = { minLiverShiftSpearman: 0.5 };
    expect(fidelityChecks(summary(0, 0, 1, 1), thresholds).checks.map((c) => [c.metric, c.pass])).toEqual([['minLiverShiftSpearman', false]]);
  });
});

describe('fidelity evaluation on a tiny synthetic cohort, with the world’s truth as the model under test', () => {
  let cohort: Awaited<ReturnType<typeof writeFidelityCohort>>;
  let oracle: WorldModel;
  const runs: Record<
    'oracle' | 'ignoresAction' | 'constantHeuristic' | 'blindAssistant' | 'identityReconstruction',
    { run: FidelityRun; summary: FidelitySummary }
  > = {} as never;

  beforeAll(async () => {
    cohort = await writeFidelityCohort(3);
    oracle = await createOracleWorldModel({ cohortDir: cohort.dir });
    const evaluate = async (world: WorldModel, replicas: number) => {
      const run = await runFidelity(world, { cohortDir: cohort.dir, split: 'all', replicas, seed: 7, roiSize: [48, 48, 48], roiSpacingMm: 2 });
      return { run, summary: summariseFidelity(run) };
    };
    runs.oracle = await evaluate(oracle, 2);
    // The controls at T = 1: each only has to show what it breaks.
    runs.ignoresAction = await evaluate(withDynamics(oracle, ignoringAction(oracle.dynamics, FIDELITY_PANEL[0]!.protocol)), 1);
    // Response heads that report a residual volume ordered as the world's expected risk orders the
    // panel, one way or the other (riskFromState grows with it).
    const phenotypes = new Map((await readFidelityCohort(cohort.dir, 'all')).map((c) => [c.caseId, c.phenotype]));
    const head =
      (sign: 1 | -1): DynamicsModel['expectedResponse'] =>
      async (requests) =>
        requests.map((r) => ({
          volumeRatio: Math.exp(sign * expectedRisk(phenotypes.get(r.caseId)!, r.protocol)),
          viableShare: 1,
          necrosisShare: 0,
          lipiodolShare: 0,
          liverShiftHu: 0,
        }));
    const constant: WorldModel = {
      ...oracle,
      dynamics: { ...oracle.dynamics, simulate: (r) => oracle.dynamics.simulate(r), expectedResponse: head(-1) },
      heuristic: { identity: oracle.heuristic.identity, risk: async () => 1 },
    };
    runs.constantHeuristic = await evaluate(constant, 1);
    // An assistant that finds no tumour on any post-CT; and an autoencoder that reconstructs perfectly.
    const blind: WorldModel = {
      ...oracle,
      assistant: { identity: oracle.assistant.identity, segment: async ({ ct }) => makeVolume(new Uint8Array(ct.data.length), ct.shape, ct.affine) },
    };
    runs.blindAssistant = await evaluate(blind, 1);
    const perfectAutoencoder: WorldModel = {
      ...oracle,
      dynamics: { ...oracle.dynamics, simulate: (r) => oracle.dynamics.simulate(r), reconstruct: async ({ post }) => post, expectedResponse: head(1) },
    };
    runs.identityReconstruction = await evaluate(perfectAutoencoder, 1);
  }, 600_000);
  afterAll(async () => {
    await oracle?.close();
    await cohort?.cleanup();
  });

  it('records every patient × panel protocol × replica, with the same seeds for every protocol of a patient', () => {
    const { run } = runs.oracle;
    expect(run.cases).toHaveLength(3);
    for (const c of run.cases) {
      expect(c.protocols.map((p) => p.key)).toEqual(run.panel.map((p) => p.key));
      const seeds = c.protocols.map((p) => p.replicas.map((r) => r.seed).join(','));
      expect(new Set(seeds).size).toBe(1);
      expect(c.protocols[0]!.replicas).toHaveLength(2);
    }
  });

  it('the truth passes the issue-10 targets: composition identical, risk ranked as the world ranks it', () => {
    const { summary } = runs.oracle;
    const result = fidelityChecks(summary, ISSUE_10_TARGETS);
    expect(result.checks.map((c) => [c.metric, c.pass])).toEqual([
      ['minViableShareSpearman', true],
      ['minRiskSpearman', true],
      ['maxLipiodolShareError', true],
      ['maxNecrosisShareError', true],
    ]);
    expect(summary.spearman['post.viable'].mean).toBe(1);
    expect(summary.agentShareError.post).toEqual({ viable: 0, necrotic: 0, lipiodol: 0 });
    console.log(`oracle: risk Spearman per case ${summary.perCase.map((c) => c.spearman['risk.learned']?.toFixed(3)).join(', ')}`);
  });

  it('measures on the true post-CT what the world rendered: per-agent shares match the ResponseState fractions', () => {
    for (const row of runs.oracle.summary.perAgent) {
      expect(Math.abs(row.truth.with.post.viable - row.state.with.viableFraction)).toBeLessThan(0.05);
      expect(Math.abs(row.truth.with.post.lipiodol - row.state.with.lipiodolFraction)).toBeLessThan(0.05);
      expect(Math.abs(row.truth.with.liverShiftHu - row.state.with.liverShiftHu)).toBeLessThan(1);
    }
    // Lipiodol appears only with Lipiodol in the protocol.
    const lipiodol = runs.oracle.summary.perAgent.find((r) => r.agent === 'lipiodol')!;
    expect(lipiodol.truth.without.post.lipiodol).toBe(0);
    expect(lipiodol.truth.with.post.lipiodol).toBeGreaterThan(0.1);
  });

  it('NEGATIVE CONTROL: a dynamics model that ignores the action fails the checks, even at the fixture thresholds', () => {
    const { summary } = runs.ignoresAction;
    for (const thresholds of [ISSUE_10_TARGETS, FIXTURE_THRESHOLDS]) {
      const result = fidelityChecks(summary, thresholds);
      expect(result.pass).toBe(false);
      const failing = result.checks.filter((c) => !c.pass).map((c) => c.metric);
      expect(failing).toContain('minViableShareSpearman');
      expect(failing).toContain('minRiskSpearman');
    }
    // Identical CTs for every protocol: no ranking at all, in every patient.
    expect(summary.spearman['post.viable'].undefinedCount).toBe(3);
    expect(summary.spearman['risk.learned'].undefinedCount).toBe(3);
    // The per-agent table shows it: with and without Lipiodol look the same to the model.
    const lipiodol = summary.perAgent.find((r) => r.agent === 'lipiodol')!;
    expect(lipiodol.learned.with.post.lipiodol).toBeCloseTo(lipiodol.learned.without.post.lipiodol, 12);
    expect(lipiodol.truth.without.post.lipiodol).toBe(0);
  });

  it('the decomposition blames the right model: (i) heuristic on true post-CTs survives bad dynamics, (ii) survives a bad heuristic', () => {
    const badDynamics = runs.ignoresAction.summary.spearman;
    expect(badDynamics['risk.heuristicOnTruth'].mean).toBeGreaterThan(0.9);
    expect(badDynamics['risk.worldOnSimulated'].undefinedCount).toBe(3);
    const badHeuristic = runs.constantHeuristic.summary.spearman;
    expect(badHeuristic['risk.heuristicOnTruth'].undefinedCount).toBe(3);
    expect(badHeuristic['risk.learned'].undefinedCount).toBe(3);
    expect(badHeuristic['risk.worldOnSimulated'].mean).toBeGreaterThan(0.9);
    // Same truth, same seeds: the oracle's own column does not depend on the model under test.
    expect(badHeuristic['risk.worldOnTruth'].mean).toBe(badDynamics['risk.worldOnTruth'].mean);
  });

  it('the decomposition blames the assistant: (ii-a) breaks with a blind assistant while (i) and (iii) hold', () => {
    const blind = runs.blindAssistant.summary.spearman;
    // No tumour found: no residual viable volume, so only toxicity is left to rank the panel by.
    expect(runs.blindAssistant.summary.perProtocol.every((r) => r.assistantOnTruth!.post.volumeRatio === 0)).toBe(true);
    console.log(`blind assistant: (ii-a) ${blind['risk.assistantOnTruth'].mean.toFixed(3)} vs (iii) ${blind['risk.worldOnTruth'].mean.toFixed(3)}`);
    expect(blind['risk.assistantOnTruth'].mean).toBeLessThan(blind['risk.worldOnTruth'].mean - 0.2);
    expect(blind['risk.heuristicOnTruth'].mean).toBeGreaterThan(0.9);
    expect(blind['risk.worldOnTruth'].mean).toBe(runs.constantHeuristic.summary.spearman['risk.worldOnTruth'].mean);
    // The oracle's assistant is exact: (ii-a) is the oracle's view.
    expect(runs.oracle.summary.spearman['risk.assistantOnTruth'].mean).toBe(runs.oracle.summary.spearman['risk.worldOnTruth'].mean);
  });

  it('(ii-b) is measured only where the dynamics has an autoencoder, and a perfect one reproduces (ii-a)', () => {
    expect(runs.oracle.summary.spearman['risk.worldOnReconstruction'].undefinedCount).toBe(3);
    expect(runs.oracle.summary.perProtocol[0]!.reconstruction).toBeNull();
    const perfect = runs.identityReconstruction.summary;
    expect(perfect.spearman['risk.worldOnReconstruction'].mean).toBe(perfect.spearman['risk.assistantOnTruth'].mean);
    expect(perfect.perProtocol[0]!.reconstruction).toEqual(perfect.perProtocol[0]!.assistantOnTruth);
  });

  it('(r) reads the response head alone: one that ranks as the world does gives 1, an inverted one −1, none is undefined', () => {
    expect(runs.identityReconstruction.summary.spearman['risk.worldOnResponse'].mean).toBe(1);
    expect(runs.constantHeuristic.summary.spearman['risk.worldOnResponse'].mean).toBe(-1);
    expect(runs.oracle.summary.spearman['risk.worldOnResponse'].undefinedCount).toBe(3);
    // The same images and seeds under both heads: (r) moved, what was drawn did not.
    expect(runs.identityReconstruction.summary.spearman['risk.worldOnSimulated']).toEqual(runs.constantHeuristic.summary.spearman['risk.worldOnSimulated']);
  });

  it('prints the ceiling of an image-based model: the posterior oracle ranks below the full oracle, above chance, whatever the model', () => {
    const ceiling = runs.oracle.summary.spearman['risk.posteriorOracle'];
    console.log(`posterior oracle ${ceiling.mean.toFixed(3)} vs the world's truth ${runs.oracle.summary.spearman['risk.worldOnState'].mean.toFixed(3)}`);
    expect(ceiling.undefinedCount).toBe(0);
    expect(ceiling.mean).toBeGreaterThan(0);
    expect(ceiling.mean).toBeLessThan(runs.oracle.summary.spearman['risk.worldOnState'].mean);
    // It reads the phenotype, not the model under test.
    expect(runs.ignoresAction.summary.spearman['risk.posteriorOracle']).toEqual(ceiling);
  });

  it('renders every per-case and per-agent row in the report', () => {
    const { run, summary } = runs.oracle;
    const markdown = renderFidelityReport(run, summary, fidelityChecks(summary, ISSUE_10_TARGETS), 'markdown');
    for (const c of run.cases) expect(markdown).toContain(`| ${c.caseId} |`);
    for (const a of summary.perAgent) expect(markdown).toContain(`| ${a.displayName} |`);
    expect(markdown).toContain('## Checks (PASS)');
  });
});
