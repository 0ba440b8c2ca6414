/**
 * POSITIVE TEST of the learned world model: the bundled ONNX models (models/demo) must pass the
 * fidelity checks on the small fixture (2 patients of an unseen cohort seed on the clinical grid, full panel,
 * T = 1, the default sampler), with issue 10's targets scaled for the fixture
 * (FIXTURE_THRESHOLDS).
 *
 * SKIPPED: it awaits the retrained models of issue 10 (deliverable 3). The current demo models
 * (dynamics 0.2.0, assistant 0.1.0, heuristic 0.1.0) fail all four checks on the same fixture
 * built on the `small` grid (run 2026-12-07): viable-share Spearman 0.356 (≥ 0.6), risk Spearman
 * −0.013 (≥ 0.4), per-agent Lipiodol error 0.190 and necrosis error 0.182 (≤ 0.15). On the
 * clinical grid (as committed) the run exceeded its 600 s on the loaded 2-core machine and was not
 * measured; docs/fidelity.md has 8 held-out clinical patients at T = 2 (Spearman 0.19 and 0.04,
 * errors 0.245 and 0.219). Turn `describe.skip` into `describe` in the commit that ships models that
 * pass it, and write their numbers here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fidelityChecks } from '../../src/evaluation/fidelity/checks';
import { runFidelity } from '../../src/evaluation/fidelity/run';
import { summariseFidelity } from '../../src/evaluation/fidelity/summary';
import { createOnnxWorldModel, type OnnxWorldModel } from '../../src/models/onnx/world-model';
import { FIXTURE_THRESHOLDS, writeFidelityCohort } from './fidelity-fixture';

describe.skip('fidelity of the bundled ONNX models (awaits the retrained models of issue 10)', () => {
  let cohort: Awaited<ReturnType<typeof writeFidelityCohort>>;
  let world: OnnxWorldModel;

  beforeAll(async () => {
    cohort = await writeFidelityCohort(2, 'clinical');
    world = await createOnnxWorldModel({ modelDir: 'models/demo' });
  });
  afterAll(async () => {
    await world?.close();
    await cohort?.cleanup();
  });

  it('passes the fixture thresholds: composition, per-agent shares and risk ranking', async () => {
    const run = await runFidelity(world, { cohortDir: cohort.dir, split: 'all', replicas: 1, seed: 7, roiSize: [64, 64, 64], roiSpacingMm: 1.5 });
    const summary = summariseFidelity(run);
    const result = fidelityChecks(summary, FIXTURE_THRESHOLDS);
    console.log(result.checks.map((c) => `${c.metric} ${c.value.toFixed(3)} (${c.direction} ${c.threshold}) ${c.pass ? 'pass' : 'FAIL'}`).join('\n'));
    expect(result.checks.filter((c) => !c.pass).map((c) => c.metric)).toEqual([]);
  }, 600_000);
});
