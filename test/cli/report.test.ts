/**
 * `mewm report` from a saved plan result: volumes and beam-step audits in a real local artifact
 * store, the report built from them, then checked for its pictures and audit facts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { LocalArtifactStore } from '../../src/artifacts/local-store';
import { putJson, putVolume } from '../../src/artifacts/volumes';
import { largestTumourSlice } from '../../src/core/volume/roi';
import { buildAuditRecord, parseReportArguments, runReport } from '../../src/cli/report';
import { DEFAULT_PLAN_SETTINGS } from '../../src/config/config';
import { diagonalAffine, makeVolume, type Volume } from '../../src/core/volume/volume';
import type { Protocol } from '../../src/core/vocabulary';
import type { ModelIdentity } from '../../src/models/world-model';
import type { BeamStepAudit, CandidateRecord, PlanResult, ReplicaRecord } from '../../workflows/types';

const N = 24;

function phantom(tumourRadius: number, tumourHu: number): { ct: Volume<Float32Array>; labels: Volume<Uint8Array> } {
  const ct = new Float32Array(N * N * N).fill(-1000);
  const labels = new Uint8Array(N * N * N);
  for (let z = 0; z < N; z++)
    for (let y = 0; y < N; y++)
      for (let x = 0; x < N; x++) {
        const i = x + N * (y + N * z);
        if (Math.hypot(x - 12, y - 12, z - 12) < 10) {
          ct[i] = 60;
          labels[i] = 1;
        }
        if (Math.hypot(x - 13, y - 11, z - 14) < tumourRadius) {
          ct[i] = tumourHu;
          labels[i] = 2;
        }
      }
  const affine = diagonalAffine([1.5, 1.5, 1.5]);
  return { ct: makeVolume(ct, [N, N, N], affine), labels: makeVolume(labels, [N, N, N], affine) };
}

describe('mewm report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mewm-report-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const store = new LocalArtifactStore(join(dir, 'artifacts'));
  const model: ModelIdentity = { role: 'dynamics', backend: 'oracle', name: 'oracle-world', version: '1.0.0', sha256: 'd'.repeat(64) };

  async function savedPlan(): Promise<PlanResult> {
    const pre = phantom(5, 110);
    const roi = {
      ct: await putVolume(store, pre.ct),
      labels: await putVolume(store, pre.labels, { labels: true }),
      size: [N, N, N] as const,
      spacingMm: [1.5, 1.5, 1.5] as const,
      offsetVoxels: [0, 0, 0] as const,
      centreMm: [0, 0, 0] as const,
    };
    const replica = async (radius: number, hu: number, risk: number, index: number): Promise<ReplicaRecord> => {
      const post = phantom(radius, hu);
      return { replica: index, seed: 100 + index, ct: await putVolume(store, post.ct), labels: await putVolume(store, post.labels, { labels: true }), risk };
    };
    const candidate = async (agent: 'epirubicin' | 'cisplatin', risks: number[]): Promise<CandidateRecord> => ({
      key: `drug/0/0/${agent}`,
      beam: 0,
      agent,
      rank: 0,
      protocol: { drugs: [agent], embolics: [] },
      meanRisk: risks.reduce((a, b) => a + b, 0) / risks.length,
      spreadRisk: 0.02,
      replicas: await Promise.all(risks.map((r, i) => replica(3 + i, 200, r, i))),
    });
    const chosen: Protocol = { drugs: ['epirubicin'], embolics: [] };
    const audit: BeamStepAudit = {
      schema: 'mewm.beam-step/1',
      planId: 'plan-1',
      caseId: 'case-7',
      phase: 'drug',
      step: 0,
      planSeed: 1,
      candidatesOffered: ['epirubicin', 'cisplatin', 'doxorubicin'],
      beamsBefore: [{ slot: 0, protocol: { drugs: [], embolics: [] }, risk: null, moves: [] }],
      beamsAfter: [{ slot: 0, protocol: chosen, risk: 0.41, moves: [] }],
      candidates: [await candidate('epirubicin', [0.4, 0.42]), await candidate('cisplatin', [0.6, 0.5])],
      pruned: [{ beam: 0, agent: 'doxorubicin', reasons: ['single-anthracycline'] }],
      extensions: [],
      replacement: null,
      models: [model],
      simulation: { computedReplicas: 4, resumedReplicas: 0, attempts: 1 },
      timings: { simulateMs: 1, segmentMs: 1, scoreMs: 1, totalMs: 3 },
    };
    const auditRef = await putJson(store, audit);
    return {
      schema: 'mewm.plan/1',
      planId: 'plan-1',
      caseId: 'case-7',
      protocol: chosen,
      risk: 0.41,
      chosenBeam: audit.beamsAfter[0]!,
      beams: audit.beamsAfter,
      steps: [
        {
          phase: 'drug',
          step: 0,
          workflowId: 'plan-1-drug-0',
          beams: [],
          bestCandidate: null,
          candidates: 2,
          pruned: 1,
          replacement: null,
          audit: auditRef,
          computedReplicas: 4,
          resumedReplicas: 0,
        },
      ],
      proposal: {
        drugs: ['epirubicin', 'cisplatin'],
        embolics: ['lipiodol'],
        rationale: 'test',
        removals: [],
        policy: { name: 'guideline', version: 'guideline-2026.1' },
      },
      prepared: {
        caseId: 'case-7',
        roi,
        observation: {
          tumourCount: 1,
          largestDiameterMm: 15,
          totalTumourMl: 2,
          liverMl: 40,
          tumourBurden: 0.05,
          enhancementHu: 50,
          heterogeneity: 0.1,
          location: 'right-lobe',
          summary: 'One 15 mm hyper-enhancing lesion in the right lobe.',
        },
        keySlices: [],
        maskSource: 'provided',
        sourceKind: 'nifti',
      },
      previews: [],
      settings: DEFAULT_PLAN_SETTINGS,
    };
  }

  it('builds the audit record: slices, best replica per candidate, models, pruning', async () => {
    const plan = await savedPlan();
    const record = await buildAuditRecord(plan, { storeFor: () => store });
    expect(record.preCt.length).toBeGreaterThan(0);
    expect(record.steps).toHaveLength(1);
    const [epirubicin, cisplatin] = record.steps[0]!.candidates;
    expect(epirubicin!.replicaRisks).toEqual([0.4, 0.42]);
    expect(epirubicin!.bestReplica!.caption).toContain('replica 0, risk 0.400');
    expect(cisplatin!.bestReplica!.caption).toContain('replica 1, risk 0.500');
    expect(record.models).toEqual([model]);
    expect(record.steps[0]!.pruned[0]!.reason).toContain('single-anthracycline');
    expect(record.settings!['beams']).toBe(DEFAULT_PLAN_SETTINGS.beams);
  });

  it('writes the HTML report from a saved plan file', async () => {
    const planFile = join(dir, 'plan.json');
    writeFileSync(planFile, JSON.stringify(await savedPlan()));
    const out = join(dir, 'report.html');
    expect(await runReport(['--plan', planFile, '--out', out])).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('not for clinical use');
    expect(html).toContain('One 15 mm hyper-enhancing lesion');
    expect((html.match(/<img src="data:image\/png;base64,/g) ?? []).length).toBeGreaterThanOrEqual(4);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ schema: 'something-else' }));
    // A failure like every other command's: one line, exit code 2 (the input must change).
    expect(await runReport(['--plan', join(dir, 'bad.json'), '--out', join(dir, 'x.html')])).toBe(2);
  });

  it('names a plan file by its role only (a file name may be a patient name)', async () => {
    writeFileSync(join(dir, 'Doe_John.json'), '{ not json');
    let stderr = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
    try {
      expect(await runReport(['--plan', join(dir, 'Doe_John.json'), '--out', join(dir, 'x.html')])).toBe(2);
      expect(await runReport(['--plan', join(dir, 'Doe_Jane.json'), '--out', join(dir, 'x.html')])).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(stderr).toBe(
      'mewm: InvalidInput: cannot read a plan result from the --plan file (not valid JSON)\nmewm: InvalidInput: cannot read a plan result from the --plan file (ENOENT)\n',
    );
  });

  it('parses arguments and finds the largest tumour slice', () => {
    expect(parseReportArguments(['wf-1'])).toEqual({ workflowId: 'wf-1' });
    expect(() => parseReportArguments([])).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    expect(() => parseReportArguments(['wf', '--plan', 'x'])).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    expect(parseReportArguments(['wf-1', '--config', 'c.json', '--out', 'r.html'])).toEqual({ workflowId: 'wf-1', configFile: 'c.json', outFile: 'r.html' });
    // Slices 12–16 tie at 69 tumour voxels (no lattice points at squared radius 21–24): the first wins.
    expect(largestTumourSlice(phantom(5, 100).labels)).toBe(12);
    expect(largestTumourSlice(phantom(0, 100).labels)).toBe(12);
  });
});
