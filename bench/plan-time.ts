/**
 * Per-patient plan time as a user sees it: `mewm plan` on the bundled synthetic case (embedded
 * Temporal dev server, all-in-one workers, the default configuration unless overridden), once
 * with the default world model (the demo ONNX models on onnxruntime-node) and once with the
 * oracle world model as the baseline, in the same run. Prints wall time, the GPU-queue time
 * split (simulate / segment / score, from the plan's audit) and the ratio ONNX / oracle.
 *
 *   node --import tsx bench/plan-time.ts [--case DIR] [--backends onnx,oracle] [--env KEY=VALUE]...
 *
 * --env passes planning settings to both runs, e.g. --env MEWM_REPLICAS=2 --env MEWM_BEAMS=2.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../workers/dev-server';
import type { PlanAudit } from '../src/cli/audit';
import type { PlanResult } from '../workflows/types';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    case: { type: 'string', default: join(root, 'examples', 'demo-cohort', 'cases', 'SYN-1-0001') },
    backends: { type: 'string', default: 'onnx,oracle' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const extraEnv = Object.fromEntries(
  values.env.map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--env needs KEY=VALUE, got ${kv}`);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  }),
);

interface Run {
  readonly backend: string;
  readonly wallS: number;
  readonly simulateS: number;
  readonly segmentS: number;
  readonly scoreS: number;
  readonly replicas: number;
  readonly protocol: string;
  readonly risk: number;
}

async function planOnce(backend: string): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), `mewm-bench-plan-${backend}-`));
  const env: Record<string, string> = { ...(process.env as Record<string, string>), MEWM_DATA_DIR: join(dir, 'data'), MEWM_TEMPORAL_PORT: String(await freePort()), MEWM_LOG_LEVEL: 'warn', MEWM_WORLD_MODEL: backend, ...extraEnv };
  for (const inherited of ['TEMPORAL_ADDRESS', 'MEWM_CONFIG', 'MEWM_ORACLE_COHORT']) delete env[inherited];
  const out = join(dir, 'plan');
  const start = performance.now();
  const child = spawnSync(join(root, 'bin', 'mewm'), ['plan', values.case, '--out', out], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const wallS = (performance.now() - start) / 1000;
  if (child.status !== 0) throw new Error(`mewm plan (${backend}) failed with code ${child.status}:\n${child.stderr}`);
  const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as PlanResult;
  const audit = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8')) as PlanAudit;
  const sum = (key: 'simulateMs' | 'segmentMs' | 'scoreMs') => audit.steps.reduce((s, step) => s + step.timings[key], 0) / 1000;
  const replicas = audit.steps.reduce((s, step) => s + step.candidates.reduce((n, c) => n + c.replicas.length, 0), 0);
  const protocol = [...plan.protocol.drugs, ...plan.protocol.embolics].join(' + ');
  return { backend, wallS, simulateS: sum('simulateMs'), segmentS: sum('segmentMs'), scoreS: sum('scoreMs'), replicas, protocol, risk: plan.risk };
}

const runs: Run[] = [];
for (const backend of values.backends.split(',')) {
  process.stderr.write(`planning with the ${backend} world model…\n`);
  runs.push(await planOnce(backend));
}
const settings = Object.entries(extraEnv).map(([k, v]) => `${k}=${v}`).join(' ') || 'default configuration';
console.log(`mewm plan ${values.case.replace(`${root}/`, '')} (${settings})`);
console.log('backend  wall s  simulate s  segment s  score s  replicas  s/replica  protocol (risk)');
for (const r of runs) {
  console.log(
    `${r.backend.padEnd(8)} ${r.wallS.toFixed(1).padStart(6)}  ${r.simulateS.toFixed(1).padStart(10)}  ${r.segmentS.toFixed(1).padStart(9)}  ${r.scoreS.toFixed(1).padStart(7)}  ${String(r.replicas).padStart(8)}  ${(r.wallS / r.replicas).toFixed(2).padStart(9)}  ${r.protocol} (${r.risk.toFixed(4)})`,
  );
}
const onnx = runs.find((r) => r.backend === 'onnx');
const oracle = runs.find((r) => r.backend === 'oracle');
if (onnx && oracle) console.log(`ratio of wall times (onnx / oracle): ${(onnx.wallS / oracle.wallS).toFixed(2)}x`);
