import { describe, expect, it } from 'vitest';
import { renderPlanReport, SYNTHETIC_BANNER } from '../../src/evaluation/report-html';
import { demoAuditRecord } from './report-fixture';

describe('renderPlanReport', () => {
  const html = renderPlanReport(demoAuditRecord());

  it('carries the synthetic-data banner, the chosen protocol, every step and the models', () => {
    expect(html).toContain(SYNTHETIC_BANNER.replace('—', '—'));
    expect(html).toContain('id="synthetic-banner"');
    expect(html).toMatch(/Chosen protocol:<\/strong> Epirubicin; Lipiodol · predicted risk 0\.4120 ± 0\.0300/);
    expect(html).toContain('Step 1: drug horizon');
    expect(html).toContain('Step 2: embolic horizon');
    expect(html).toContain('single-anthracycline');
    expect(html).toContain('a'.repeat(64));
    expect(html).toContain('guideline-2026.1');
  });

  it('is self-contained: images are PNG data URLs and nothing is fetched', () => {
    const sources = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]!);
    // 2 pre-CT + 4 best replicas + 1 spread image + the risk chart.
    expect(sources).toHaveLength(8);
    for (const s of sources) expect(s.startsWith('data:image/png;base64,')).toBe(true);
    expect(html).not.toMatch(/(src|href)="(https?:|\/\/|file:)/);
  });

  it('escapes text from the record', () => {
    expect(html).toContain('pre-CT z=20 &lt;tumour outline&gt;');
    const hostile = renderPlanReport({ ...demoAuditRecord(), observationSummary: '<script>alert(1)</script>' });
    expect(hostile).not.toContain('<script>alert(1)</script>');
    expect(hostile).toContain('&lt;script&gt;');
  });

  it('rejects non-PNG images and records without a case id', () => {
    const bad = { ...demoAuditRecord(), preCt: [{ caption: 'not a png', png: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) }] };
    expect(() => renderPlanReport(bad)).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    expect(() => renderPlanReport({ ...demoAuditRecord(), caseId: '' })).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });
});

describe('renderComparisonReport', () => {
  it('states the risk difference with replica spread and escapes roles', async () => {
    const { renderComparisonReport, summariseRisks } = await import('../../src/evaluation/report-html');
    const { fakeSlicePng } = await import('./report-fixture');
    expect(summariseRisks([1, 3])).toEqual({ mean: 2, sd: Math.SQRT2 });
    expect(() => summariseRisks([])).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    const img = { caption: 'replica', png: fakeSlicePng(32, 5, 80) };
    const html = renderComparisonReport({
      caseId: 'case-1',
      preCt: [img],
      proposed: { role: 'Dr <A>', protocol: { drugs: ['cisplatin'], embolics: ['lipiodol'] }, replicaRisks: [0.6, 0.62], replicas: [img, img] },
      reference: { role: 'MeWM', protocol: { drugs: ['epirubicin'], embolics: ['lipiodol'] }, replicaRisks: [0.4, 0.42], replicas: [img, img] },
      models: [],
      seed: 3,
    });
    expect(html).toContain('(Dr &lt;A&gt; − MeWM): <strong>+0.2000</strong>');
    expect(html).toContain('has the higher predicted risk');
    expect(html).toContain('not for clinical use');
  });
});
