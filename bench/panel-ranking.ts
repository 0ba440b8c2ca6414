/**
 * How well can anything rank the fidelity panel within a patient? Per held-out patient of a
 * `mewm synth` cohort, the within-patient Spearman against the world's expected risk of the 14
 * panel protocols (docs/fidelity.md) for:
 *
 * - population: the panel ranked by the expected risk averaged over the *other* patients (what a
 *   planner that sees nothing of the patient can do);
 * - posterior oracle: the expected risk averaged over the hidden biology given the visible
 *   phenotype (src/world/posterior.ts; the ceiling of any image-based model);
 * - (r) of each model folder given: the world's risk of its dynamics' expected response (the
 *   response head alone; `mewm fidelity`'s row of the same name, without simulating anything).
 *
 *   node --import tsx bench/panel-ranking.ts --cohort DIR [--cases 24] [--models DIR]...
 */
import { parseArgs } from 'node:util';
import { readFidelityCohort, readPlanningRoi } from '../src/evaluation/fidelity/cohort';
import { FIDELITY_PANEL } from '../src/evaluation/fidelity/panel';
import { riskOfExpectedResponse } from '../src/evaluation/fidelity/run';
import { spearman } from '../src/evaluation/rank-correlation';
import { createOnnxWorldModel } from '../src/models/onnx';
import { posteriorExpectedRisk, samplePosterior, visiblePhenotype } from '../src/world/posterior';
import { expectedRisk } from '../src/world/survival';

const { values } = parseArgs({
  options: { cohort: { type: 'string' }, cases: { type: 'string', default: '24' }, models: { type: 'string', multiple: true, default: [] } },
});
if (!values.cohort) throw new Error('usage: bench/panel-ranking.ts --cohort DIR [--cases N] [--models DIR]...');
const cohort = values.cohort;
const cases = await readFidelityCohort(cohort, 'all', Number(values.cases));
const panel = FIDELITY_PANEL.map((e) => e.protocol);
const truth = cases.map((c) => panel.map((p) => expectedRisk(c.phenotype, p)));

const rows: [string, number[]][] = [];
rows.push([
  'population (other patients’ mean risk)',
  truth.map((own, i) =>
    spearman(
      panel.map((_, k) => truth.reduce((s, r, j) => (j === i ? s : s + r[k]!), 0)),
      own,
    ),
  ),
]);
rows.push([
  'posterior oracle (ceiling of an image-based model)',
  cases.map((c, i) => {
    const sample = samplePosterior(visiblePhenotype(c.phenotype));
    return spearman(
      panel.map((p) => posteriorExpectedRisk(sample, p).mean),
      truth[i]!,
    );
  }),
]);
for (const dir of values.models) {
  const world = await createOnnxWorldModel({ modelDir: dir, sessionWorkers: 1 });
  try {
    if (!world.dynamics.expectedResponse) throw new Error(`${dir}: the dynamics model has no response head`);
    const rhos: number[] = [];
    for (const [i, c] of cases.entries()) {
      const pre = await readPlanningRoi(cohort, c, { roiSize: [96, 96, 96], roiSpacingMm: 1.5 });
      const responses = await world.dynamics.expectedResponse(panel.map((protocol) => ({ caseId: c.caseId, pre, protocol })));
      const risks = responses.map((r) => riskOfExpectedResponse(c.phenotype, r));
      rhos.push(spearman(risks, truth[i]!));
    }
    rows.push([`(r) ${world.dynamics.identity.name} ${world.dynamics.identity.version} (${dir})`, rhos]);
  } finally {
    await world.close();
  }
}

console.log(`within-patient Spearman vs the world's expected risk, ${FIDELITY_PANEL.length} panel protocols, ${cases.length} patients of ${cohort}`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) / xs.length;
for (const [name, rhos] of rows) console.log(`${mean(rhos).toFixed(3).padStart(7)}  ${name}   [${rhos.map((r) => r.toFixed(2)).join(' ')}]`);
