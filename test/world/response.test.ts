import { describe, expect, it } from 'vitest';
import { isMewmError } from '../../src/core/errors';
import { boundingBox, boxCentre, cropAround } from '../../src/core/volume/crop';
import { resampleToSpacing } from '../../src/core/volume/resample';
import { Label, sameGrid, type LabelledCt } from '../../src/core/volume/volume';
import type { Protocol } from '../../src/core/vocabulary';
import { measureResponse } from '../../src/world/oracle';
import { GRID_PRESETS, renderPhantom } from '../../src/world/phantom';
import { samplePhenotype } from '../../src/world/phenotype';
import { POST_TUMOUR_HU, responseMeans, robustLabelStats, simulateResponse, TOXICITY_HU_PER_UNIT } from '../../src/world/response';

const phenotype = samplePhenotype('SYN-T-0001', 1234);
const pre = renderPhantom(phenotype, GRID_PRESETS.small);
const lipiodolEpirubicin: Protocol = { drugs: ['epirubicin'], embolics: ['lipiodol'] };

function count(labels: Uint8Array, label: number): number {
  let n = 0;
  for (const v of labels) if (v === label) n++;
  return n;
}

describe('simulateResponse', () => {
  it('is deterministic per seed and differs between replicas', () => {
    const a = simulateResponse(pre, phenotype, lipiodolEpirubicin, 1).post;
    const b = simulateResponse(pre, phenotype, lipiodolEpirubicin, 1).post;
    const c = simulateResponse(pre, phenotype, lipiodolEpirubicin, 2).post;
    expect(Buffer.from(a.ct.data.buffer).equals(Buffer.from(b.ct.data.buffer))).toBe(true);
    expect(Buffer.from(a.ct.data.buffer).equals(Buffer.from(c.ct.data.buffer))).toBe(false);
  });

  it('keeps the grid, keeps liver ∪ tumour, only shrinks the tumour, and draws the state it reports', () => {
    const { post, state } = simulateResponse(pre, phenotype, lipiodolEpirubicin, 3);
    expect(sameGrid(post.ct, pre.ct)).toBe(true);
    expect(sameGrid(post.labels, pre.labels)).toBe(true);
    let changedExtent = 0;
    let grownTumour = 0;
    for (let q = 0; q < pre.labels.data.length; q++) {
      const before = pre.labels.data[q]!;
      const after = post.labels.data[q]!;
      if ((before === Label.background) !== (after === Label.background)) changedExtent++;
      if (after === Label.tumour && before !== Label.tumour) grownTumour++;
    }
    expect(changedExtent).toBe(0);
    expect(grownTumour).toBe(0);
    const preTumour = count(pre.labels.data, Label.tumour);
    const postTumour = count(post.labels.data, Label.tumour);
    expect(postTumour / preTumour).toBeCloseTo(state.volumeRatio, 1);
    const measured = measureResponse(pre, post);
    expect(measured.viableRatio).toBeCloseTo(state.viableRatio, 1);
    expect(measured.toxicity).toBeCloseTo(state.toxicity, 1);
    const lipiodolVoxels = [...post.labels.data].filter((v, q) => v === Label.tumour && post.ct.data[q]! >= POST_TUMOUR_HU.lipiodolMin).length;
    expect(lipiodolVoxels / postTumour).toBeCloseTo(state.lipiodolFraction, 1);
    expect(state.lipiodolFraction).toBeGreaterThan(0);
  });

  it('deposits no hyperdense Lipiodol without Lipiodol', () => {
    const { post, state } = simulateResponse(pre, phenotype, { drugs: ['cisplatin'], embolics: ['gelatin-sponge'] }, 4);
    expect(state.lipiodolFraction).toBe(0);
    const bright = [...post.labels.data].filter((v, q) => v === Label.tumour && post.ct.data[q]! >= POST_TUMOUR_HU.lipiodolMin).length;
    expect(bright).toBe(0);
  });

  it('darkens the liver parenchyma in proportion to toxicity', () => {
    const { post, state } = simulateResponse(pre, phenotype, { drugs: ['cisplatin', 'doxorubicin'], embolics: ['absolute-alcohol', 'pva'] }, 5);
    const before = robustLabelStats(pre.ct.data, pre.labels.data, Label.liver).median;
    const after = robustLabelStats(post.ct.data, post.labels.data, Label.liver).median;
    expect(state.toxicity).toBeGreaterThan(0.5);
    expect(before - after).toBeCloseTo(TOXICITY_HU_PER_UNIT * state.toxicity, 0);
  });

  it('a more effective protocol leaves less viable tumour on average (monotone sanity)', () => {
    const protocols: Protocol[] = [
      { drugs: ['fluorouracil'], embolics: ['gelatin-sponge'] },
      { drugs: ['cisplatin'], embolics: ['lipiodol'] },
      { drugs: ['cisplatin', 'epirubicin'], embolics: ['lipiodol', 'drug-eluting-beads'] },
    ];
    const kills = protocols.map((p) => responseMeans(phenotype, p).kill);
    const order = kills
      .map((k, i) => [k, i] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, i]) => i);
    const viable = protocols.map((p) => {
      let sum = 0;
      for (let seed = 0; seed < 8; seed++) sum += measureResponse(pre, simulateResponse(pre, phenotype, p, seed).post).viableRatio;
      return sum / 8;
    });
    expect(kills[order[2]!]! - kills[order[0]!]!).toBeGreaterThan(0.1);
    expect(viable[order[0]!]!).toBeGreaterThan(viable[order[1]!]!);
    expect(viable[order[1]!]!).toBeGreaterThan(viable[order[2]!]!);
  });

  it('works on a cropped and resampled region of interest (the planning grid)', () => {
    const clinical = renderPhantom(phenotype, GRID_PRESETS.clinical);
    const box = boundingBox(clinical.labels, (v) => v === Label.tumour)!;
    const centre = boxCentre(box);
    const crop = { ct: cropAround(clinical.ct, centre, [140, 140, 40], -1024), labels: cropAround(clinical.labels, centre, [140, 140, 40], 0) };
    const roi: LabelledCt = { ct: resampleToSpacing(crop.ct, 1.5, 'linear'), labels: resampleToSpacing(crop.labels, 1.5, 'nearest') };
    const { post, state } = simulateResponse(roi, phenotype, lipiodolEpirubicin, 9);
    expect(sameGrid(post.ct, roi.ct)).toBe(true);
    const measured = measureResponse(roi, post);
    expect(Math.abs(measured.viableRatio - state.viableRatio)).toBeLessThan(0.12);
    expect(Math.abs(measured.toxicity - state.toxicity)).toBeLessThan(0.15);
  });

  it('refuses a protocol that breaks a clinical rule', () => {
    try {
      simulateResponse(pre, phenotype, { drugs: ['cisplatin', 'oxaliplatin'], embolics: ['lipiodol'] }, 1);
      expect.unreachable();
    } catch (error) {
      expect(isMewmError(error, 'RuleViolation')).toBe(true);
    }
  });
});
