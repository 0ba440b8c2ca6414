import { describe, expect, it } from 'vitest';
import { deriveSeed } from '../../src/core/random';
import { samplePhenotype } from '../../src/world/phenotype';
import { visibleFindings } from '../../src/world/physician';

function correlation(a: readonly number[], b: readonly number[]): number {
  const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  a.forEach((x, i) => {
    sab += (x - ma) * (b[i]! - mb);
    saa += (x - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  });
  return sab / Math.sqrt(saa * sbb);
}

describe('phenotype', () => {
  const cohort = Array.from({ length: 400 }, (_, i) => samplePhenotype(`SYN-T-${i}`, deriveSeed(5, i)));

  it('imaging informs the hidden biology without revealing it', () => {
    const enhancement = cohort.map((p) => visibleFindings(p).meanEnhancementHu);
    const platinum = cohort.map((p) => p.biology.sensitivity.platinum);
    const uptake = cohort.map((p) => p.biology.lipiodolUptake);
    for (const hidden of [platinum, uptake]) {
      const r = correlation(enhancement, hidden);
      expect(r).toBeGreaterThan(0.2);
      expect(r).toBeLessThan(0.9);
    }
    // some biology is not visible at all
    const topoisomerase = cohort.map((p) => p.biology.sensitivity['topoisomerase-inhibitor']);
    expect(Math.abs(correlation(enhancement, topoisomerase))).toBeLessThan(0.15);
  });

  it('covers the clinical range: 1–3 lesions, a spread of sizes, shunts in a minority', () => {
    const counts = new Set(cohort.map((p) => p.lesions.length));
    expect(counts).toEqual(new Set([1, 2, 3]));
    const diameters = cohort.map((p) => visibleFindings(p).largestDiameterMm).sort((a, b) => a - b);
    expect(diameters[20]!).toBeLessThan(30);
    expect(diameters[380]!).toBeGreaterThan(55);
    const shunts = cohort.filter((p) => p.biology.arteriovenousShunt).length / cohort.length;
    expect(shunts).toBeGreaterThan(0.05);
    expect(shunts).toBeLessThan(0.35);
  });

  it('survives a JSON round trip unchanged (the truth sidecar feeds the oracle)', () => {
    const p = cohort[7]!;
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
  });
});
