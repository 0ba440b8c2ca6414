/** A small but complete plan audit record with real PNG images, for the report tests. */
import { PNG } from 'pngjs';
import type { PlanAuditRecord, ReportImage } from '../../src/evaluation/report-html';

/** A fake axial CT slice: grey liver disc, darker tumour, with a red tumour outline. */
export function fakeSlicePng(size: number, tumourRadius: number, tumourGrey: number): Uint8Array {
  const png = new PNG({ width: size, height: size });
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x - c, y - c);
      const rt = Math.hypot(x - c * 1.1, y - c * 0.9);
      let grey = r < size * 0.42 ? 120 : 20;
      if (rt < tumourRadius) grey = tumourGrey;
      const outline = Math.abs(rt - tumourRadius) < 0.8;
      const i = (y * size + x) * 4;
      png.data[i] = outline ? 230 : grey;
      png.data[i + 1] = outline ? 40 : grey;
      png.data[i + 2] = outline ? 40 : grey;
      png.data[i + 3] = 255;
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

export function demoAuditRecord(): PlanAuditRecord {
  const img = (caption: string, radius: number, grey: number): ReportImage => ({ caption, png: fakeSlicePng(96, radius, grey) });
  return {
    caseId: 'case-0042',
    planId: 'plan-case-0042-7',
    createdAt: '2026-11-26T23:00:00Z',
    goal: 'maximise tumour necrosis with tolerable toxicity',
    observationSummary: 'One lesion, 48 mm, right lobe, arterial enhancement +32 HU.',
    chosen: { protocol: { drugs: ['epirubicin'], embolics: ['lipiodol'] }, risk: 0.412, spreadRisk: 0.03 },
    preCt: [img('pre-CT z=20 <tumour outline>', 14, 70), img('pre-CT z=24', 16, 70)],
    steps: [
      {
        phase: 'drug',
        step: 0,
        beamsBefore: [{ slot: 0, protocol: { drugs: [], embolics: [] }, risk: null }],
        beamsAfter: [{ slot: 0, protocol: { drugs: ['epirubicin'], embolics: [] }, risk: 0.52 }],
        candidates: [
          {
            key: 'epirubicin|',
            beam: 0,
            agent: 'epirubicin',
            protocol: { drugs: ['epirubicin'], embolics: [] },
            meanRisk: 0.52,
            spreadRisk: 0.04,
            replicaRisks: [0.5, 0.54],
            bestReplica: img('post-CT, epirubicin (best replica)', 11, 90),
          },
          {
            key: 'cisplatin|',
            beam: 0,
            agent: 'cisplatin',
            protocol: { drugs: ['cisplatin'], embolics: [] },
            meanRisk: 0.61,
            spreadRisk: 0.05,
            replicaRisks: [0.58, 0.64],
            bestReplica: img('post-CT, cisplatin (best replica)', 13, 80),
          },
        ],
        pruned: [{ agent: 'doxorubicin', reason: 'single-anthracycline: concomitant anthracyclines are contraindicated' }],
      },
      {
        phase: 'embolic',
        step: 0,
        beamsBefore: [{ slot: 0, protocol: { drugs: ['epirubicin'], embolics: [] }, risk: 0.52 }],
        beamsAfter: [{ slot: 0, protocol: { drugs: ['epirubicin'], embolics: ['lipiodol'] }, risk: 0.412 }],
        candidates: [
          {
            key: 'epirubicin|lipiodol',
            beam: 0,
            agent: 'lipiodol',
            protocol: { drugs: ['epirubicin'], embolics: ['lipiodol'] },
            meanRisk: 0.412,
            spreadRisk: 0.03,
            replicaRisks: [0.39, 0.43],
            bestReplica: img('post-CT, + lipiodol (best replica)', 8, 200),
            spreadImage: img('replica spread, + lipiodol', 8, 150),
          },
          {
            key: 'epirubicin|gelatin-sponge',
            beam: 0,
            agent: 'gelatin-sponge',
            protocol: { drugs: ['epirubicin'], embolics: ['gelatin-sponge'] },
            meanRisk: 0.47,
            spreadRisk: 0.02,
            bestReplica: img('post-CT, + gelatin sponge', 10, 100),
          },
        ],
        pruned: [],
        replacement: 'none: the worst beam was already better than the pruned candidates',
      },
    ],
    models: [
      { role: 'dynamics', backend: 'oracle', name: 'oracle-world', version: '1', sha256: 'a'.repeat(64) },
      { role: 'assistant', backend: 'oracle', name: 'oracle-world', version: '1', sha256: 'b'.repeat(64) },
      { role: 'heuristic', backend: 'oracle', name: 'oracle-world', version: '1', sha256: 'c'.repeat(64) },
    ],
    policy: { name: 'guideline', version: 'guideline-2026.1' },
    promptVersions: { propose: 'v1', refine: 'v1' },
    settings: { beams: 2, replicas: 4, seed: 7 },
  };
}
