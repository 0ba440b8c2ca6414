/**
 * POSITIVE TEST of the learned world model: the bundled ONNX models (models/demo) must pass the
 * fidelity checks on the small fixture (2 patients of an unseen cohort seed on the clinical grid, full panel,
 * T = 1, the default sampler), with issue 10's targets scaled for the fixture
 * (FIXTURE_THRESHOLDS).
 *
 * SKIPPED: issue 10's goal, not reached yet. The 0.3.0 models (response-conditioned dynamics,
 * measured-feature heuristic) on 24 held-out patients of seed 20261208 (docs/fidelity.md):
 * viable-share Spearman 0.39, risk Spearman −0.04, per-agent Lipiodol error 0.17, necrosis error
 * 0.21 inside the assistant's post tumour label — while inside the pre-treatment tumour mask
 * (dynamics alone) the per-agent errors are 0.06 / 0.07 / 0.09 and the heuristic on the true
 * post-CTs reaches 0.87. With assistant 0.2.0 (8 patients): risk Spearman −0.06, Lipiodol error
 * 0.04, necrosis error 0.12; the decomposition rows (ii-a)/(ii-b) put the remaining loss at the
 * autoencoder's decoder (0.82 → 0.30) and the denoiser (0.30 → −0.06), docs/fidelity.md.
 * What the 0.3 models do pass is tested in
 * test/models/onnx/world-model.test.ts ("the action matters"). Turn `describe.skip` into
 * `describe` in the commit that ships models that pass this.
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
