import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMewmError } from '../../src/core/errors';
import { Label, makeVolume, type LabelledCt, type Volume } from '../../src/core/volume/volume';
import { readNifti } from '../../src/io/nifti';
import type { WorldModel } from '../../src/models/world-model';
import { writeCohort, type SyntheticPatient } from '../../src/world/cohort';
import { rankProtocols } from '../../src/world/gold';
import { createOracleWorldModel, segmentFromPhenotype } from '../../src/world/oracle';
import { spearman } from '../../src/evaluation/rank-correlation';

describe('oracle world model', () => {
  let dir: string;
  let patients: SyntheticPatient[];
  let oracle: WorldModel;
  const pres = new Map<string, LabelledCt>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mewm-oracle-'));
    patients = await writeCohort({ seed: 5, patients: 3, gridPreset: 'small', outDir: dir });
    oracle = await createOracleWorldModel({ cohortDir: dir });
    for (const p of patients) {
      const ct = await readNifti(join(dir, 'cases', p.caseId, 'pre-ct.nii.gz'));
      const labels = (await readNifti(join(dir, 'cases', p.caseId, 'pre-labels.nii.gz'))) as Volume<Uint8Array>;
      pres.set(p.caseId, { ct: makeVolume(Float32Array.from(ct.data), ct.shape, ct.affine), labels });
    }
  });
  afterAll(async () => {
    await oracle.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('names the world it encodes', async () => {
    const hash = createHash('sha256')
      .update(await readFile(join(dir, 'world.json')))
      .digest('hex');
    expect(oracle.dynamics.identity).toMatchObject({ role: 'dynamics', backend: 'oracle', sha256: hash });
    expect(oracle.heuristic.identity.sha256).toBe(hash);
  });

  it('reproduces the cohort post-CT bit for bit from the same seed, and the assistant returns its true labels', async () => {
    const p = patients[0]!;
    const pre = pres.get(p.caseId)!;
    const [[post]] = (await oracle.dynamics.simulate([{ caseId: p.caseId, pre, protocol: p.physician, seeds: [p.treatmentSeed] }])) as [[Volume<Float32Array>]];
    const stored = await readNifti(join(dir, 'cases', p.caseId, 'post-ct.nii.gz'));
    expect(Array.from(post!.data)).toEqual(Array.from(stored.data));
    const labels = await oracle.assistant.segment({ caseId: p.caseId, ct: post! });
    const storedLabels = await readNifti(join(dir, 'cases', p.caseId, 'post-labels.nii.gz'));
    expect(Buffer.from(labels.data).equals(Buffer.from(storedLabels.data as Uint8Array))).toBe(true);
  });

  it('segments a CT it did not render from the phenotype, close to the truth', async () => {
    const p = patients[1]!;
    const stored = await readNifti(join(dir, 'cases', p.caseId, 'post-ct.nii.gz'));
    const truth = (await readNifti(join(dir, 'cases', p.caseId, 'post-labels.nii.gz'))) as Volume<Uint8Array>;
    const labels = segmentFromPhenotype(p.phenotype, makeVolume(Float32Array.from(stored.data), stored.shape, stored.affine));
    const dice = (label: number) => {
      let both = 0;
      let a = 0;
      let b = 0;
      for (let q = 0; q < labels.data.length; q++) {
        const x = labels.data[q] === label;
        const y = truth.data[q] === label;
        if (x) a++;
        if (y) b++;
        if (x && y) both++;
      }
      return (2 * both) / (a + b);
    };
    expect(dice(Label.liver)).toBeGreaterThan(0.97);
    expect(dice(Label.tumour)).toBeGreaterThan(0.75);
  });

  it('ranks protocols like the true expected risk (Spearman over replicas)', async () => {
    for (const p of patients) {
      const pre = pres.get(p.caseId)!;
      const ranked = rankProtocols(p.phenotype);
      const picks = [0, 100, 250, 450, 650, 850, 1050, ranked.length - 1].map((i) => ranked[i]!);
      const seeds = [11, 12, 13, 14];
      const posts = await oracle.dynamics.simulate(picks.map((r) => ({ caseId: p.caseId, pre, protocol: r.protocol, seeds })));
      const oracleRisk: number[] = [];
      for (const replicas of posts) {
        let sum = 0;
        for (const ct of replicas) {
          const labels = await oracle.assistant.segment({ caseId: p.caseId, ct });
          sum += await oracle.heuristic.risk({ caseId: p.caseId, pre, post: { ct, labels } });
        }
        oracleRisk.push(sum / replicas.length);
      }
      expect(
        spearman(
          picks.map((r) => r.risk),
          oracleRisk,
        ),
      ).toBeGreaterThan(0.85);
    }
  });

  it('refuses a case that is not in its world', async () => {
    const pre = pres.get(patients[0]!.caseId)!;
    await expect(oracle.dynamics.simulate([{ caseId: 'SYN-0-9999', pre, protocol: patients[0]!.physician, seeds: [1] }])).rejects.toSatisfy((e) =>
      isMewmError(e, 'InvalidInput'),
    );
    await expect(createOracleWorldModel({ cohortDir: join(dir, 'nope') })).rejects.toSatisfy((e) => isMewmError(e, 'InvalidInput'));
  });
});
