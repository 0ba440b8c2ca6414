/**
 * `mewm plan`'s case resolution keeps a user's file and folder names out of case ids and error
 * messages (they may be patient names); only `mewm synth`'s own names are shown.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveCase } from '../../src/app/case-input';
import { isMewmError } from '../../src/core/errors';

const dir = mkdtempSync(join(tmpdir(), 'mewm-resolve-case-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(isMewmError(error, 'InvalidInput'), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected an InvalidInput error');
}

describe('resolveCase: patient names in paths', () => {
  it('a missing Doe_John.nii.gz or mask is reported without the name', () => {
    expect(messageOf(() => resolveCase(join(dir, 'Doe_John.nii.gz'), {}))).toBe('the case path given does not exist');
    writeFileSync(join(dir, 'ct.nii.gz'), 'x');
    expect(messageOf(() => resolveCase(join(dir, 'ct.nii.gz'), { mask: join(dir, 'Doe_John-mask.nii.gz') }))).toBe('the mask given with --mask does not exist');
  });

  it('a --case-id that is not a pseudonym is refused without being repeated', () => {
    writeFileSync(join(dir, 'ct.nii.gz'), 'x');
    const message = messageOf(() => resolveCase(join(dir, 'ct.nii.gz'), { caseId: 'Doe^John' }));
    expect(message).toMatch(/^the case id must be letters, digits/);
    expect(message).not.toContain('Doe');
  });

  it('a synthetic case folder is named (its name is a pseudonym)', () => {
    expect(messageOf(() => resolveCase(join(dir, 'SYN-4-0002'), {}))).toBe('the case path SYN-4-0002 does not exist');
  });

  it('a folder in the mewm synth layout but named like a patient gets an opaque case id', () => {
    const patient = join(dir, 'Doe_John');
    mkdirSync(patient);
    writeFileSync(join(patient, 'pre-ct.nii.gz'), 'x');
    const resolved = resolveCase(patient, {});
    expect(resolved.input.caseId).toMatch(/^case-[0-9a-f]{12}$/);
    expect(resolved.input.ct).toBe(join(patient, 'pre-ct.nii.gz'));
    const synthetic = join(dir, 'SYN-4-0003');
    mkdirSync(synthetic);
    writeFileSync(join(synthetic, 'pre-ct.nii.gz'), 'x');
    expect(resolveCase(synthetic, {}).input.caseId).toBe('SYN-4-0003');
  });
});
