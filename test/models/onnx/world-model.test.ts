/**
 * createOnnxWorldModel end to end on the shipped demo models and a tiny synthetic ROI:
 * shapes and grids, determinism by seed, the action changes the simulated CT, segmentation
 * and risk are well formed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMewmError } from '../../../src/core/errors';
import { diagonalAffine, makeVolume, type LabelledCt, type Volume } from '../../../src/core/volume/volume';
import { createOnnxWorldModel, type OnnxWorldModel } from '../../../src/models/onnx/world-model';
import { fidelityChecks } from '../../../src/evaluation/fidelity/checks';
import { FIDELITY_PANEL } from '../../../src/evaluation/fidelity/panel';
import { runFidelity } from '../../../src/evaluation/fidelity/run';
import { summariseFidelity } from '../../../src/evaluation/fidelity/summary';
import { FIXTURE_THRESHOLDS, writeFidelityCohort } from '../../evaluation/fidelity-fixture';

/** 40³ ROI at 2 mm: soft-tissue background, liver ellipsoid, a 9 mm-radius tumour. */
function tinyRoi(): LabelledCt {
  const n = 40;
  const ct = new Float32Array(n * n * n);
  const labels = new Uint8Array(n * n * n);
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const i = x + n * (y + n * z);
        const liver = ((x - 20) / 17) ** 2 + ((y - 20) / 15) ** 2 + ((z - 20) / 14) ** 2 < 1;
        const tumour = (x - 22) ** 2 + (y - 19) ** 2 + (z - 20) ** 2 < 4.5 ** 2;
        ct[i] = tumour ? 105 : liver ? 60 : -90;
        ct[i] += 8 * Math.sin(i * 12.9898);
        labels[i] = tumour ? 2 : liver ? 1 : 0;
      }
  const affine = diagonalAffine([2, 2, 2], [-40, -40, -40]);
  return { ct: makeVolume(ct, [n, n, n], affine), labels: makeVolume(labels, [n, n, n], affine) };
}

function meanAbsDiff(a: Volume<Float32Array>, b: Volume<Float32Array>, where?: Uint8Array): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < a.data.length; i++) {
    if (where && where[i] !== 2) continue;
    s += Math.abs(a.data[i]! - b.data[i]!);
    c++;
  }
  return s / c;
}

describe('createOnnxWorldModel (demo models)', () => {
  let world: OnnxWorldModel;
  const pre = tinyRoi();
  const tace = { drugs: ['epirubicin'], embolics: ['lipiodol'] } as const;
  const other = { drugs: ['raltitrexed'], embolics: ['gelatin-sponge'] } as const;

  beforeAll(async () => {
    world = await createOnnxWorldModel({ modelDir: 'models/demo', sampler: { method: 'ddim', steps: 8 }, maxBatch: 4 });
  });
  afterAll(() => world?.close());

  it('names its models by manifest and hash', () => {
    expect(world.dynamics.identity).toMatchObject({ role: 'dynamics', backend: 'onnx' });
    expect(world.dynamics.identity.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(world.assistant.identity.name).toBe(world.manifests.assistant.name);
  });

  it('simulates one CT per seed on the pre grid; same seeds give the same volumes, other seeds other volumes', async () => {
    const [a, b, again] = await world.dynamics.simulate([
      { caseId: 'case-a', pre, protocol: tace, seeds: [11, 12, 13] },
      { caseId: 'case-a', pre, protocol: other, seeds: [11, 12, 13] },
      { caseId: 'case-a', pre, protocol: tace, seeds: [11, 12, 13] },
    ]);
    expect(a).toHaveLength(3);
    for (const v of a!) {
      expect(v.shape).toEqual(pre.ct.shape);
      expect(v.affine).toEqual(pre.ct.affine);
      expect(v.data.every(Number.isFinite)).toBe(true);
    }
    a!.forEach((v, i) => expect(v.data).toEqual(again![i]!.data));
    // Whether the action matters is measured against the world's truth below ("the action matters").
    expect(b).toHaveLength(3);
    expect(meanAbsDiff(a![0]!, a![1]!, pre.labels.data)).toBeGreaterThan(0);
    // far from the tumour the pre-CT is kept as it was
    expect(a![0]!.data[0]).toBe(pre.ct.data[0]);
  });

  it('gives the same bits whatever the batch and however many session threads compute it', async () => {
    const requests = [
      { caseId: 'case-a', pre, protocol: tace, seeds: [21, 22, 23] },
      { caseId: 'case-a', pre, protocol: other, seeds: [21] },
    ];
    const reference = await world.dynamics.simulate(requests); // maxBatch 4, one session thread
    const oneByOne = await createOnnxWorldModel({ modelDir: 'models/demo', sampler: { method: 'ddim', steps: 8 }, maxBatch: 1 });
    const pooled = await createOnnxWorldModel({ modelDir: 'models/demo', sampler: { method: 'ddim', steps: 8 }, maxBatch: 4, sessionWorkers: 2 });
    try {
      expect(pooled.parallelism).toBe(2);
      for (const other of [oneByOne, pooled]) {
        const again = await other.dynamics.simulate(requests);
        again.forEach((volumes, r) => volumes.forEach((v, s) => expect(v.data).toEqual(reference[r]![s]!.data)));
      }
      const ct = reference[0]![0]!;
      const [a, b] = await Promise.all([pooled.assistant.segment({ caseId: 'case-a', ct }), pooled.assistant.segment({ caseId: 'case-a', ct: reference[1]![0]! })]);
      expect(a.data).toEqual((await world.assistant.segment({ caseId: 'case-a', ct })).data);
      expect(b.data).toEqual((await world.assistant.segment({ caseId: 'case-a', ct: reference[1]![0]! })).data);
    } finally {
      await oneByOne.close();
      await pooled.close();
    }
  });

  it('rejects agents the model does not know and requests without seeds', async () => {
    await expect(world.dynamics.simulate([{ caseId: 'c', pre, protocol: { drugs: [], embolics: [] }, seeds: [] }])).rejects.toSatisfy((e: unknown) => isMewmError(e, 'InvalidInput'));
  });

  it('reports the response head\'s expected response per action: Lipiodol only where it is given', async () => {
    const [withLipiodol, withSponge] = await world.dynamics.expectedResponse!([
      { caseId: 'c', pre, protocol: tace },
      { caseId: 'c', pre, protocol: other },
    ]);
    for (const r of [withLipiodol!, withSponge!]) for (const v of Object.values(r)) expect(Number.isFinite(v)).toBe(true);
    expect(withLipiodol!.lipiodolShare).toBeGreaterThan(withSponge!.lipiodolShare + 0.1);
    expect(withLipiodol!.volumeRatio).not.toBe(withSponge!.volumeRatio);
  });

  it('segments liver and tumour onto the input grid', async () => {
    const labels = await world.assistant.segment({ caseId: 'case-a', ct: pre.ct });
    expect(labels.shape).toEqual(pre.ct.shape);
    expect(labels.data.every((v) => v <= 2)).toBe(true);
    let liver = 0;
    for (const v of labels.data) if (v >= 1) liver++;
    expect(liver).toBeGreaterThan(0);
  });

  it('segments only around the tumour when asked to focus, and the whole CT when the focus covers it', async () => {
    const [[ct]] = (await world.dynamics.simulate([{ caseId: 'case-a', pre, protocol: tace, seeds: [5] }])) as [[Volume<Float32Array>]];
    const whole = await world.assistant.segment({ caseId: 'case-a', ct });
    const covering = await world.assistant.segment({ caseId: 'case-a', ct, focus: { preLabels: pre.labels, marginMm: 200 } });
    expect(covering.data).toEqual(whole.data);
    const focused = await world.assistant.segment({ caseId: 'case-a', ct, focus: { preLabels: pre.labels, marginMm: 4 } });
    // The tumour spans x 18–26, y 15–23, z 16–24 (radius 4.5 voxels of 2 mm); 4 mm = 2 voxels. The
    // model grid (27³ at 3 mm) is smaller than one segmenter window, so the window is the whole grid
    // and inside the box the focused labels are exactly the whole segmentation's.
    const n = 40;
    let outside = 0;
    let kept = 0;
    let changedInside = 0;
    let notSegmenterInside = 0;
    for (let z = 0; z < n; z++)
      for (let y = 0; y < n; y++)
        for (let x = 0; x < n; x++) {
          const i = x + n * (y + n * z);
          const inBox = x >= 16 && x <= 28 && y >= 13 && y <= 25 && z >= 14 && z <= 26;
          if (inBox) {
            changedInside += focused.data[i] !== pre.labels.data[i] ? 1 : 0;
            notSegmenterInside += focused.data[i] !== whole.data[i] ? 1 : 0;
          } else {
            outside++;
            kept += focused.data[i] === pre.labels.data[i] ? 1 : 0;
          }
        }
    expect(kept).toBe(outside);
    expect(notSegmenterInside).toBe(0);
    expect(changedInside).toBeGreaterThan(0); // the segmenter's labels, not copies of the pre-treatment ones
    expect(focused.data).not.toEqual(whole.data); // and outside the pre-treatment labels, not the segmenter's
    await expect(world.assistant.segment({ caseId: 'case-a', ct, focus: { preLabels: makeVolume(new Uint8Array(8), [2, 2, 2], pre.labels.affine), marginMm: 4 } })).rejects.toSatisfy((e: unknown) =>
      isMewmError(e, 'InvalidInput'),
    );
  });

  it('gives a finite, deterministic risk', async () => {
    const post = { ct: pre.ct, labels: pre.labels };
    const r1 = await world.heuristic.risk({ caseId: 'case-a', pre, post });
    const r2 = await world.heuristic.risk({ caseId: 'case-a', pre, post });
    expect(Number.isFinite(r1)).toBe(true);
    expect(r1).toBe(r2);
  });
});

/**
 * "The action matters", measured against the world's truth (src/evaluation/fidelity): on 2 patients
 * of an unseen cohort seed, one-agent changes of conventional TACE (drug, Lipiodol vs particles vs
 * alcohol, a second drug) must move the simulated post-CT as they move the world's: within-patient
 * Spearman of the Lipiodol share inside the post tumour label and of the liver HU shift (the
 * toxicity the risk counts) ≥ 0.7. A model that ignores the action gives identical CTs for every
 * protocol (undefined correlations count 0) and fails: test/evaluation/fidelity.test.ts runs that
 * negative control. The dynamics 0.3.0 models reach 0.89 and 0.92 on 24 held-out patients
 * (docs/fidelity.md); they do not reach issue 10's viable-share (0.39 of 0.7) or end-to-end risk
 * (−0.04 of 0.5) targets, which test/evaluation/fidelity-onnx.test.ts keeps as the skipped goal.
 * (The previous version of this test asserted only that two protocols differ by more than 0 HU.)
 */
describe('the action matters', () => {
  const subset = [0, 2, 4, 5, 6, 8, 10].map((i) => FIDELITY_PANEL[i]!);
  let cohort: Awaited<ReturnType<typeof writeFidelityCohort>>;
  let world: OnnxWorldModel;
  beforeAll(async () => {
    cohort = await writeFidelityCohort(2, 'clinical');
    world = await createOnnxWorldModel({ modelDir: 'models/demo', sampler: { method: 'ddim', steps: 8 }, maxBatch: 4 });
  }, 300_000);
  afterAll(async () => {
    await world?.close();
    await cohort?.cleanup();
  });

  it('Lipiodol and liver toxicity follow the protocol as in the world', async () => {
    const run = await runFidelity(world, { cohortDir: cohort.dir, split: 'all', replicas: 1, seed: 7, roiSize: [64, 64, 64], roiSpacingMm: 1.5, panel: subset });
    const summary = summariseFidelity(run);
    const { checks } = fidelityChecks(summary, { minLipiodolShareSpearman: 0.7, minLiverShiftSpearman: 0.7 });
    console.log(checks.map((c) => `${c.metric} ${c.value.toFixed(3)} (${c.direction} ${c.threshold})`).join('\n'));
    expect(checks.filter((c) => !c.pass).map((c) => c.metric)).toEqual([]);
  }, 600_000);
});
