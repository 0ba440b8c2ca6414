/**
 * The `mewm` command as a user runs it: synth a case, `mewm plan` it with the embedded dev server,
 * all-in-one workers and the default world model (the bundled demo ONNX models, run by
 * onnxruntime-node through Temporal), then `mewm audit` and `mewm status` against the same server state.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../workers/dev-server';
import { tempDir } from '../support/temporal';

const mewm = resolve(import.meta.dirname, '..', '..', 'bin', 'mewm');
let dir: string;
let env: Record<string, string>;

function run(args: string[]) {
  const result = spawnSync(mewm, args, { cwd: dir, env, encoding: 'utf8', timeout: 240_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  dir = tempDir('cli');
  env = {
    ...(process.env as Record<string, string>),
    MEWM_DATA_DIR: join(dir, 'data'),
    MEWM_TEMPORAL_PORT: String(await freePort()),
    MEWM_LOG_LEVEL: 'warn',
    MEWM_ROI_SIZE: '32,32,24',
    MEWM_ROI_SPACING_MM: '3',
    MEWM_BEAMS: '2',
    MEWM_DRUG_CANDIDATES: '3',
    MEWM_EMBOLIC_CANDIDATES: '2',
    MEWM_REPLICAS: '2',
    MEWM_DRUG_HORIZON: '1',
    MEWM_EMBOLIC_HORIZON: '1',
  };
  for (const inherited of ['TEMPORAL_ADDRESS', 'MEWM_ORACLE_COHORT', 'MEWM_WORLD_MODEL', 'MEWM_MODEL_DIR', 'MEWM_CONFIG']) delete env[inherited];
  expect(run(['synth', '--patients', '1', '--seed', '2', '--out', 'demo', '--size', 'small']).code).toBe(0);
});

describe('mewm CLI', () => {
  it('plan prints the protocol and a per-step table, writes outputs; audit and status read them back', { timeout: 300_000 }, () => {
    const caseId = readdirSync(join(dir, 'demo', 'cases'))[0]!;
    const plan = run(['plan', join('demo', 'cases', caseId), '--seed', '7']);
    expect(plan.stderr).not.toMatch(/mewm: /);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^Protocol: .+ \(mean risk \d+\.\d{4}, beam b\d\)$/m);
    expect(plan.stdout).toMatch(/^step\s+beam\s+protocol\s+mean risk/m);
    expect(plan.stdout).toMatch(/^drug-1\s+b0 /m);
    expect(plan.stdout).toMatch(/^embolic-1\s+b1 /m);
    for (const role of ['dynamics', 'assistant', 'heuristic']) {
      expect(plan.stdout).toMatch(new RegExp(`^  ${role}\\s+mewm-${role}-demo \\S+ \\(onnx, sha256 [0-9a-f]{12}\\) — synthetic data, not for clinical use$`, 'm'));
    }

    const workflowId = `plan-${caseId}-s7`;
    const outDir = join(dir, 'data', 'plans', workflowId);
    for (const file of ['plan.json', 'audit.json', 'audit.csv', 'preview.png']) expect(existsSync(join(outDir, file)), file).toBe(true);
    const result = JSON.parse(readFileSync(join(outDir, 'plan.json'), 'utf8'));
    expect(result.settings.seed).toBe(7);
    expect(result.caseId).toBe(caseId);

    const audit = run(['audit', workflowId, '--format', 'csv']);
    expect(audit.code).toBe(0);
    expect(audit.stdout).toBe(readFileSync(join(outDir, 'audit.csv'), 'utf8'));
    const rows = audit.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^planId,caseId,phase,step,beam,agent,candidateKey/);
    const replicas = result.steps.reduce((n: number, s: { candidates: number }) => n + s.candidates, 0) * 2;
    expect(rows).toHaveLength(1 + replicas);
    const planAudit = JSON.parse(readFileSync(join(outDir, 'audit.json'), 'utf8'));
    const models = planAudit.steps.flatMap((s: { models: { backend: string; role: string }[] }) => s.models);
    expect(new Set(models.map((m: { backend: string }) => m.backend))).toEqual(new Set(['onnx']));
    expect(new Set(models.map((m: { role: string }) => m.role))).toEqual(new Set(['dynamics', 'assistant', 'heuristic']));

    const status = run(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(workflowId);

    // The dev server's store holds the event histories (payloads as plain JSON bytes): the case
    // id and the plan result are there, the case's folder path is not (a folder may name a patient).
    const db = join(dir, 'data', 'temporal', 'temporal.sqlite');
    const stored = [db, `${db}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('');
    expect(stored).toContain('"schema":"mewm.plan/1"');
    expect(stored).toContain(caseId);
    expect(stored).not.toContain(join(dir, 'demo', 'cases'));
  });

  it('answers bad input with one clear line and a non-zero exit code', () => {
    const usage = run(['plan']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/usage: mewm plan/);
    const missing = run(['plan', 'no-such-case.nii.gz']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('mewm: InvalidInput: the case path given does not exist');
    expect(run(['frobnicate']).code).toBe(2);
    const badEnv = spawnSync(mewm, ['plan', 'demo'], { cwd: dir, env: { ...env, MEWM_BEAMS: 'many' }, encoding: 'utf8' });
    expect(badEnv.status).toBe(1);
    expect(badEnv.stderr).toMatch(/mewm: InvalidConfig: MEWM_BEAMS must be an integer/);
  });
});
