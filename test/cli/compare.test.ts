/** `mewm compare` (second reader) on a small synthetic cohort with the oracle world model. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseCompareArguments, parseProtocolText, runCompare } from '../../src/cli/compare';
import { writeCohort } from '../../src/world/cohort';

describe('mewm compare', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mewm-compare-'));
  const cohort = join(dir, 'cohort');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    await writeCohort({ seed: 9, patients: 2, gridPreset: 'small', outDir: cohort });
  }, 120_000);

  it('parses protocol text through the vocabulary and its rules', () => {
    expect(parseProtocolText('Cisplatin; THP, Lipiodol + gelfoam')).toEqual({ drugs: ['cisplatin', 'pirarubicin'], embolics: ['lipiodol', 'gelatin-sponge'] });
    expect(() => parseProtocolText('cisplatin; oxaliplatin')).toThrow(expect.objectContaining({ code: 'RuleViolation' }));
    expect(() => parseProtocolText('aspirin')).toThrow(expect.objectContaining({ code: 'UnknownAction' }));
    expect(() => parseCompareArguments(['case', '--protocol', 'cisplatin'])).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });

  it('simulates both protocols, prints the risk difference and writes the page', async () => {
    const out = join(dir, 'compare.html');
    const caseId = JSON.parse(readFileSync(join(cohort, 'manifest.jsonl'), 'utf8').split('\n')[0]!).caseId as string;
    const printed: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed.push(String(chunk));
      return true;
    });
    let code: number;
    try {
      code = await runCompare([
        caseId,
        '--cohort',
        cohort,
        '--protocol',
        'Epirubicin; Lipiodol',
        '--against',
        'Cisplatin; LC beads',
        '--replicas',
        '2',
        '--out',
        out,
      ]);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(0);
    const text = printed.join('');
    const risk = (role: string) => Number(new RegExp(`${role}:.*risk (-?[0-9.]+) ±`).exec(text)![1]);
    const difference = Number(/difference \(physician − MeWM\): (-?[0-9.]+)/.exec(text)![1]);
    // Printed values are rounded to 4 decimals: allow for that.
    expect(Math.abs(difference - (risk('physician') - risk('MeWM')))).toBeLessThan(2e-4);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('not for clinical use');
    expect(html).toContain('Physician: Epirubicin; Lipiodol');
    expect(html).toContain('MeWM: Cisplatin; LC beads');
    expect((html.match(/data:image\/png;base64,/g) ?? []).length).toBeGreaterThanOrEqual(4);
  }, 120_000);
});
