/**
 * `mewm cohort` as a user runs it, with the oracle world model and tiny settings: `mewm synth` →
 * `mewm cohort DIR --with-workers --out FILE` (embedded Temporal server, in-process workers, one
 * runCohort workflow); a second run resumes the same cohort and plans nothing; `mewm evaluate
 * --mewm` reads the outcome file and the plan audits; bad input gets one line that names no path
 * of the user's.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isValidProtocol } from '../../src/core/vocabulary';
import type { CohortCaseOutcome } from '../../workflows/types';
import { cliTestEnv, runMewm } from '../support/cli';
import { tempDir } from '../support/temporal';

const PATIENTS = 3;
let dir: string;
let env: Record<string, string>;

const run = (args: string[]) => runMewm(dir, env, args, 120_000);

const outcomes = (file: string): CohortCaseOutcome[] =>
  readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CohortCaseOutcome);

const caseIds = (): string[] =>
  readFileSync(join(dir, 'demo', 'manifest.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (JSON.parse(line) as { caseId: string }).caseId);

beforeAll(async () => {
  dir = tempDir('cohort-cli');
  env = await cliTestEnv(dir, { MEWM_WORLD_MODEL: 'oracle' });
  expect(run(['synth', '--patients', String(PATIENTS), '--seed', '3', '--out', 'demo', '--size', 'small']).code).toBe(0);
}, 60_000);

describe('mewm cohort (oracle world model, embedded server)', () => {
  it('plans every patient, writes one outcome line each, and a re-run resumes without planning again', { timeout: 120_000 }, () => {
    const ids = caseIds();
    expect(ids).toHaveLength(PATIENTS);

    const first = run(['cohort', 'demo', '--with-workers', '--out', 'outcomes.jsonl']);
    expect(first.stderr).not.toMatch(/InvalidInput|Internal|Error/);
    expect(first.code).toBe(0);
    const cohortId = /cohort id ([0-9a-f]{12}) /.exec(first.stderr)?.[1];
    expect(cohortId).toBeDefined();
    expect(first.stdout).toContain(`cohort ${cohortId}: ${PATIENTS} planned, 0 already done, 0 failed, of ${PATIENTS}\n`);
    expect(first.stdout).toContain(`outcomes (one line per patient): ${join(dir, 'outcomes.jsonl')}`);
    const planned = outcomes('outcomes.jsonl');
    expect(planned.map((o) => o.caseId)).toEqual(ids);
    for (const o of planned) {
      expect(o).toMatchObject({ status: 'completed', workflowId: `plan-${cohortId}-${o.caseId}` });
      expect(isValidProtocol(o.protocol!), o.caseId).toBe(true);
      expect(o.protocol!.drugs.length + o.protocol!.embolics.length).toBeGreaterThan(0);
      expect(Number.isFinite(o.risk)).toBe(true);
    }

    const second = run(['cohort', 'demo', '--with-workers', '--out', 'outcomes-again.jsonl']);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`cohort id ${cohortId} `);
    expect(second.stdout).toContain(`cohort ${cohortId}: 0 planned, ${PATIENTS} already done, 0 failed, of ${PATIENTS}\n`);
    const resumed = outcomes('outcomes-again.jsonl');
    // Every patient skipped: the completed plan's own protocol and risk, under the same plan workflow.
    expect(resumed.map((o) => o.status)).toEqual(ids.map(() => 'skipped'));
    expect(resumed.map(({ status: _, ...rest }) => rest)).toEqual(planned.map(({ status: _, ...rest }) => rest));
  });

  it('mewm evaluate --mewm: the outcome file is a MeWM row, with risk-by-protocol figures from its plan audits', { timeout: 60_000 }, () => {
    // An ablation row whose plan workflows the server never ran: no figures, a stated reason, no failure.
    writeFileSync(
      join(dir, 'unknown-plans.jsonl'),
      outcomes('outcomes.jsonl')
        .map((o) => `${JSON.stringify({ ...o, workflowId: `plan-unknown-${o.caseId}` })}\n`)
        .join(''),
    );
    const evaluation = run([
      'evaluate',
      '--cohort',
      'demo',
      '--split',
      'all',
      '--methods',
      'optimal',
      '--mewm',
      'cohort=outcomes-again.jsonl',
      '--ablation',
      'gone:cohort=unknown-plans.jsonl',
      '--risk-bars',
      '2',
      '--realism-replicas',
      '0',
      '--resamples',
      '10',
      '--out',
      'evaluation',
    ]);
    expect(evaluation.stderr).not.toMatch(/InvalidInput: |Internal: /);
    expect(evaluation.code).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'evaluation', 'summary.json'), 'utf8'));
    expect(summary.outcome.find((r: { method: string }) => r.method === 'cohort')).toMatchObject({ scored: PATIENTS, failed: 0 });
    const figures = readdirSync(join(dir, 'evaluation', 'figures')).filter((f) => f.startsWith('risk-') && f.endsWith('.png'));
    expect(figures.sort()).toEqual(
      caseIds()
        .slice(0, 2)
        .map((id) => `risk-cohort-${id}.png`),
    );
    expect(evaluation.stderr).toContain('not produced: gone: risk-by-protocol figures: the Temporal server does not have its plan workflows (InvalidInput)');
  });

  it('bad input: one line, a non-zero exit, and no path of the user in the message', { timeout: 60_000 }, () => {
    const folder = join(dir, 'St-Elsewhere', 'Doe_John');
    mkdirSync(folder, { recursive: true });
    const empty = join(dir, 'Doe_Jane');
    mkdirSync(empty);
    writeFileSync(join(empty, 'manifest.jsonl'), '\n');
    for (const [input, message] of [
      [folder, /no cohort manifest at the path given/],
      [empty, /the cohort manifest lists no cases/],
    ] as const) {
      const failed = run(['cohort', input, '--with-workers']);
      expect(failed.code, input).not.toBe(0);
      const lines = failed.stderr.trim().split('\n');
      expect(lines, failed.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^mewm: InvalidInput: /);
      expect(lines[0]).toMatch(message);
      expect(lines[0]).not.toMatch(/Elsewhere|Doe|John|Jane/);
      expect(lines[0]).not.toContain(dir);
    }
  });
});
