/**
 * One cohort-manifest schema: what `mewm synth` writes parses with the schema every reader uses,
 * and the readers' errors name the file by its role and quote no values (they may be patient names).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifestEntries, readSyntheticManifest, syntheticManifestRowSchema } from '../../src/io/cohort-manifest';
import { writeCohort } from '../../src/world/cohort';

const dir = mkdtempSync(join(tmpdir(), 'mewm-manifest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the cohort manifest', () => {
  let written: Awaited<ReturnType<typeof writeCohort>>;
  beforeAll(async () => {
    written = await writeCohort({ seed: 4, patients: 2, gridPreset: 'small', outDir: join(dir, 'cohort') });
  });

  it("mewm synth's rows are the schema's rows, for every reader", async () => {
    const rows = await readSyntheticManifest(join(dir, 'cohort'));
    expect(rows.map((r) => r.caseId)).toEqual(written.map((p) => p.caseId));
    for (const row of rows) expect(syntheticManifestRowSchema.strict().parse(row)).toEqual(row);
    expect(await readSyntheticManifest(join(dir, 'cohort'), ['report'])).toEqual(rows.map((r) => ({ caseId: r.caseId, report: r.report })));
    expect((await readManifestEntries(join(dir, 'cohort', 'manifest.jsonl'))).map((e) => [e.caseId, e.preCt])).toEqual(rows.map((r) => [r.caseId, r.preCt]));
  });

  it('refuses a duplicate case, a non-pseudonymous id and a missing field, by line and role, quoting no value', async () => {
    const file = join(dir, 'user.jsonl');
    const refusal = async (lines: readonly unknown[]) => {
      writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
      return readManifestEntries(file).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
    };
    expect(await refusal([{ id: 'P-1', ct: 'a.nii.gz' }, { caseId: 'P-2' }])).toBe('accepted');
    expect(await refusal([{ caseId: 'P-1' }, { caseId: 'P-1' }])).toBe('the cohort manifest, line 2: case P-1 appears twice');
    expect(await refusal([{ caseId: 'DOE^JOHN' }])).toBe(
      "the cohort manifest, line 1: caseId: caseId must be a pseudonymous id of letters, digits, '.', '_' or '-'",
    );
    await expect(readSyntheticManifest(join(dir, 'Doe_John'))).rejects.toThrow("cannot read the cohort's manifest.jsonl (ENOENT)");
  });
});
