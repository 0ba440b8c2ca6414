/**
 * The `mewm` command as a user runs it: synth a case, `mewm plan` it with the embedded dev server,
 * all-in-one workers and the default world model (the bundled demo ONNX models, run by
 * onnxruntime-node through Temporal), then `mewm audit` and `mewm status` against the same server state.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MEWM_BIN, cliTestEnv, runMewm } from '../support/cli';
import { tempDir } from '../support/temporal';

let dir: string;
let env: Record<string, string>;

const run = (args: string[]) => runMewm(dir, env, args, 240_000);

beforeAll(async () => {
  dir = tempDir('cli');
  env = await cliTestEnv(dir);
  expect(run(['synth', '--patients', '1', '--seed', '2', '--out', 'demo', '--size', 'small']).code).toBe(0);
});

describe('mewm CLI', () => {
  it('plan prints the protocol and a per-step table, writes outputs; audit and status read them back', { timeout: 300_000 }, () => {
    const caseId = readdirSync(join(dir, 'demo', 'cases'))[0]!;
    const plan = run(['plan', join('demo', 'cases', caseId), '--seed', '7']);
    expect(plan.stderr).not.toMatch(/mewm: /);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^Protocol: .+ \(mean risk -?\d+\.\d{4}, beam b\d\)$/m);
    expect(plan.stdout).toMatch(/^step\s+beam\s+protocol\s+mean risk/m);
    expect(plan.stdout).toMatch(/^drug-1\s+b0 /m);
    expect(plan.stdout).toMatch(/^embolic-1\s+b1 /m);
    for (const role of ['dynamics', 'assistant', 'heuristic']) {
      expect(plan.stdout).toMatch(
        new RegExp(`^  ${role}\\s+mewm-${role}-demo \\S+ \\(onnx, sha256 [0-9a-f]{12}\\) — synthetic data, not for clinical use$`, 'm'),
      );
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
    const stored = [db, `${db}-wal`]
      .filter(existsSync)
      .map((f) => readFileSync(f).toString('latin1'))
      .join('');
    expect(stored).toContain('"schema":"mewm.plan/1"');
    expect(stored).toContain(caseId);
    expect(stored).not.toContain(join(dir, 'demo', 'cases'));
  });

  it('answers bad input with one clear line and a non-zero exit code', () => {
    const usage = run(['plan']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/usage: mewm plan/);
    const missing = run(['plan', 'no-such-case.nii.gz']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('mewm: InvalidInput: the case path given does not exist');
    expect(run(['frobnicate']).code).toBe(2);
    const badEnv = spawnSync(MEWM_BIN, ['plan', 'demo'], { cwd: dir, env: { ...env, MEWM_BEAMS: 'many' }, encoding: 'utf8' });
    expect(badEnv.status).toBe(2);
    expect(badEnv.stderr).toMatch(/mewm: InvalidConfig: MEWM_BEAMS must be an integer/);
  });
});
