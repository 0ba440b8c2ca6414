/**
 * Bounded ingest under malformed input (issue 11): a seeded corpus of NIfTI files, DICOM folders
 * and special files (test/io/fuzz/corpus.ts) — gzip and deflate bombs, headers promising
 * terabytes, a FIFO, a /dev/zero symlink, implausible HU, sheared grids — read in a child process
 * the way ingest reads them. Asserts: every refusal is a typed MewmError with the expected code
 * and reason, controls are accepted, no message or details holds a path or the fake patient
 * name, each input answers within seconds, and the child's peak RSS stays bounded.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_PATIENT, writeCorpus, type FuzzInput } from './fuzz/corpus';

interface Result {
  id: string;
  code: string;
  message: string;
  typed: boolean;
  details: string;
  ms: number;
  maxRssMiB: number;
}

const root = mkdtempSync(join(tmpdir(), 'mewm-fuzz-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Peak RSS the child may reach above its own start-up (tsx, modules): the largest legitimate input here is ~1 MB. */
const rssBudgetMiB = 256;
const SEED = 11;

let inputs: FuzzInput[];
let report: { baselineMiB: number; peakMiB: number; results: Result[] };

beforeAll(() => {
  inputs = writeCorpus(join(root, 'corpus'), SEED);
  const list = join(root, 'inputs.json');
  writeFileSync(list, JSON.stringify(inputs));
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'test/io/fuzz/read-corpus.ts', list], {
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 16 * 1024 ** 2,
  });
  report = JSON.parse(out.trim().split('\n').at(-1)!);
}, 300_000);

describe('ingest fuzz corpus (seeded)', () => {
  it('holds at least 40 malformed inputs, bombs and special files included', () => {
    const malformed = inputs.filter((i) => i.expect !== 'ok');
    expect(malformed.length).toBeGreaterThanOrEqual(40);
    for (const id of [
      'gzip bomb: 64^3 int16 declared, 2 GiB of zeros',
      'deflated bomb: 3 files of 1 GiB each (~3 MB folder)',
      'FIFO named .nii.gz',
      '.nii.gz symlinked to /dev/zero',
    ]) {
      expect(inputs.map((i) => i.id)).toContain(id);
    }
    expect(report.results).toHaveLength(inputs.length);
  });

  it('answers every malformed input with the expected typed error and reason; accepts the controls', () => {
    const wrong: string[] = [];
    inputs.forEach((input, k) => {
      const result = report.results[k]!;
      if (input.expect === 'typed') {
        if (!(result.typed || result.code === 'ok')) wrong.push(`${input.id}: ${result.code} ${result.message}`);
        return;
      }
      if (result.code !== input.expect || (input.because !== undefined && !result.message.includes(input.because))) {
        wrong.push(`${input.id}: expected ${input.expect} (${input.because ?? ''}), got ${result.code}: ${result.message}`);
      }
    });
    expect(wrong).toEqual([]);
  });

  it('never names a path or the patient-like file name in a message or its details', () => {
    for (const result of report.results) {
      const text = `${result.message} ${result.details}`;
      expect(text, result.id).not.toContain(root);
      expect(text, result.id).not.toContain('SECRET-PATIENT');
      expect(text, result.id).not.toContain('Doe');
      expect(text, result.id).not.toContain(FAKE_PATIENT);
    }
  });

  it('answers each input within seconds (no FIFO hang, no endless /dev/zero)', () => {
    const slow = report.results.filter((r) => r.ms > 10_000 || r.code === 'TIMEOUT');
    expect(slow).toEqual([]);
  });

  it(`keeps the reading process's peak RSS within ${rssBudgetMiB} MiB of its start-up`, () => {
    const grew = report.peakMiB - report.baselineMiB;
    console.log(
      `ingest fuzz: ${report.results.length} inputs, peak RSS ${report.peakMiB} MiB (start-up ${report.baselineMiB} MiB, +${grew} MiB); slowest ${Math.max(...report.results.map((r) => r.ms))} ms`,
    );
    expect(grew).toBeLessThan(rssBudgetMiB);
  });
});
