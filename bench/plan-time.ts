/**
 * Per-patient plan time as a user sees it: `mewm plan` on the bundled synthetic case (embedded
 * Temporal dev server, all-in-one workers, the default configuration unless overridden), once
 * with the default world model (the demo ONNX models on onnxruntime-node) and once with the
 * oracle world model as the baseline, in the same run. Prints wall time, the GPU-queue time
 * split (simulate / segment / score, from the plan's audit) and the ratio ONNX / oracle.
 *
 *   node --import tsx bench/plan-time.ts [--case DIR] [--backends onnx,oracle] [--env KEY=VALUE]...
 *                                        [--baseline REV] [--rounds N]
 *
 * --baseline REV also plans with the code and models of commit REV (a temporary git worktree
 * sharing this checkout's node_modules and .venv), alternating with the working tree for
 * --rounds rounds (default 1), so a change is timed against what it replaced in one run.
 *
 * --env passes planning settings to both runs, e.g. --env MEWM_REPLICAS=2 --env MEWM_BEAMS=2.
 *
 * Also printed: the peak RSS of each plan process (its VmHWM, Linux; the Temporal dev server is
 * a separate process, not counted), and the work figure of the ONNX plan: denoiser evaluations
 * (sample-steps = simulated replicas × sampler steps, and the batched denoiser calls) beside the
 * public MeWM reference code's ≈ 120,000 sample-steps at its defaults (≈ 24,000 batch-5 calls
 * of a 200-step DDPM).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../workers/dev-server';
import type { PlanAudit } from '../src/app/plan-audit';
import { DEFAULT_SAMPLER } from '../src/models/onnx/world-model';
import type { PlanResult } from '../workflows/types';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    case: { type: 'string', default: join(root, 'examples', 'demo-cohort', 'cases', 'SYN-1-0001') },
    backends: { type: 'string', default: 'onnx,oracle' },
    env: { type: 'string', multiple: true, default: [] },
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '1' },
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
  readonly peakRssMiB: number | null;
  /** Simulated replicas per beam step (for the denoiser call count). */
  readonly replicasPerStep: readonly number[];
}

/** Peak resident set of a running process (VmHWM), MiB; null where /proc is absent or it exited. */
function peakRssMiB(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function runPlan(
  tree: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stderr: string; peakRssMiB: number | null }> {
  return new Promise((resolveRun, reject) => {
    // bin/mewm execs node, so the child's pid is the plan process itself.
    const child = spawn(join(tree, 'bin', 'mewm'), args, { env, stdio: ['ignore', 'ignore', 'pipe'], cwd: tree });
    let stderr = '';
    let peak: number | null = null;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const poll = setInterval(() => {
      const now = child.pid !== undefined ? peakRssMiB(child.pid) : null;
      if (now !== null) peak = Math.max(peak ?? 0, now);
    }, 250);
    child.on('error', reject);
    child.on('exit', (status) => {
      clearInterval(poll);
      resolveRun({ status, stderr, peakRssMiB: peak });
    });
  });
}

/** A worktree of `rev` beside the checkout's installed packages; removed at exit. */
function baselineTree(rev: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mewm-bench-baseline-'));
  execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', dir, rev], { stdio: 'ignore' });
  for (const shared of ['node_modules', '.venv']) if (existsSync(join(root, shared))) symlinkSync(join(root, shared), join(dir, shared));
  process.on('exit', () => execFileSync('git', ['-C', root, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' }));
  return dir;
}

async function planOnce(backend: string, tree = root, label = backend): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), `mewm-bench-plan-${backend}-`));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    MEWM_DATA_DIR: join(dir, 'data'),
    MEWM_TEMPORAL_PORT: String(await freePort()),
    MEWM_LOG_LEVEL: 'warn',
    MEWM_WORLD_MODEL: backend,
    ...extraEnv,
  };
  for (const inherited of ['TEMPORAL_ADDRESS', 'MEWM_CONFIG', 'MEWM_ORACLE_COHORT']) delete env[inherited];
  const out = join(dir, 'plan');
  const start = performance.now();
  const child = await runPlan(tree, ['plan', resolve(values.case), '--out', out], env);
  const wallS = (performance.now() - start) / 1000;
  if (child.status !== 0) throw new Error(`mewm plan (${backend}) failed with code ${child.status}:\n${child.stderr}`);
  const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as PlanResult;
  const audit = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8')) as PlanAudit;
  const sum = (key: 'simulateMs' | 'segmentMs' | 'scoreMs') => audit.steps.reduce((s, step) => s + step.timings[key], 0) / 1000;
  const replicas = audit.steps.reduce((s, step) => s + step.candidates.reduce((n, c) => n + c.replicas.length, 0), 0);
  const protocol = [...plan.protocol.drugs, ...plan.protocol.embolics].join(' + ');
  const replicasPerStep = audit.steps.map((step) => step.candidates.reduce((n, c) => n + c.replicas.length, 0));
  return {
    backend: label,
    wallS,
    simulateS: sum('simulateMs'),
    segmentS: sum('segmentMs'),
    scoreS: sum('scoreMs'),
    replicas,
    protocol,
    risk: plan.risk,
    peakRssMiB: child.peakRssMiB,
    replicasPerStep,
  };
}

const runs: Run[] = [];
const baseline = values.baseline === undefined ? undefined : { rev: values.baseline, tree: baselineTree(values.baseline) };
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const backend of values.backends.split(',')) {
    if (baseline) {
      process.stderr.write(`round ${round}: planning with the ${backend} world model at ${baseline.rev}…\n`);
      runs.push(await planOnce(backend, baseline.tree, `${backend}@${baseline.rev}`));
    }
    process.stderr.write(`round ${round}: planning with the ${backend} world model…\n`);
    runs.push(await planOnce(backend));
  }
}
const settings =
  Object.entries(extraEnv)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ') || 'default configuration';
console.log(`mewm plan ${values.case.replace(`${root}/`, '')} (${settings})`);
const width = Math.max(8, ...runs.map((r) => r.backend.length));
console.log(`${'backend'.padEnd(width)} wall s  simulate s  segment s  score s  replicas  s/replica  peak RSS MiB  protocol (risk)`);
for (const r of runs) {
  console.log(
    `${r.backend.padEnd(width)} ${r.wallS.toFixed(1).padStart(6)}  ${r.simulateS.toFixed(1).padStart(10)}  ${r.segmentS.toFixed(1).padStart(9)}  ${r.scoreS.toFixed(1).padStart(7)}  ${String(r.replicas).padStart(8)}  ${(r.wallS / r.replicas).toFixed(2).padStart(9)}  ${(r.peakRssMiB === null ? 'n/a' : r.peakRssMiB.toFixed(0)).padStart(12)}  ${r.protocol} (${r.risk.toFixed(4)})`,
  );
}
const onnx = runs.find((r) => r.backend === 'onnx');
const oracle = runs.find((r) => r.backend === 'oracle');
if (onnx && oracle) console.log(`ratio of wall times (onnx / oracle): ${(onnx.wallS / oracle.wallS).toFixed(2)}x`);
if (baseline) {
  for (const backend of values.backends.split(',')) {
    const mine = runs.filter((r) => r.backend === backend).map((r) => r.wallS);
    const theirs = runs.filter((r) => r.backend === `${backend}@${baseline.rev}`).map((r) => r.wallS);
    const ratios = mine.map((w, i) => (theirs[i]! / w).toFixed(2));
    console.log(`${backend}: ${baseline.rev} ÷ working tree, wall time per round: ${ratios.join(', ')}x`);
  }
}
if (onnx) {
  // The sampler the plan used: the same settings mewm plan reads (MEWM_SAMPLER / MEWM_SAMPLER_STEPS).
  const env = { ...process.env, ...extraEnv };
  const method = env['MEWM_SAMPLER'] ?? DEFAULT_SAMPLER.method;
  const steps = Number(env['MEWM_SAMPLER_STEPS'] ?? (env['MEWM_SAMPLER'] === 'ddpm' ? 1000 : env['MEWM_SAMPLER'] === 'ddim' ? 25 : DEFAULT_SAMPLER.steps));
  const perCall = Math.min(Number(env['MEWM_SIMULATE_BATCH'] ?? 8), Number(env['MEWM_MAX_BATCH'] ?? 8));
  const calls = onnx.replicasPerStep.reduce((n, k) => n + Math.ceil(k / perCall) * steps, 0);
  // A guided denoiser (classifier-free guidance inside its graph) evaluates the network twice per call.
  const dynamics = JSON.parse(readFileSync(join(env['MEWM_MODEL_DIR'] ?? join(root, 'models', 'demo'), 'dynamics', 'manifest.json'), 'utf8')) as {
    action?: { guidanceScale?: number };
  };
  const passes = (dynamics.action?.guidanceScale ?? 1) !== 1 ? 2 : 1;
  const sampleSteps = onnx.replicas * steps * passes;
  console.log(
    `work: ${sampleSteps.toLocaleString('en')} denoiser evaluations per plan (${onnx.replicas} replicas × ${steps} ${method} steps${passes === 2 ? ` × 2 (guidance scale ${dynamics.action!.guidanceScale})` : ''}; ${calls.toLocaleString('en')} batched calls of ≤ ${perCall}) ` +
      `vs ≈ 120,000 for the public MeWM reference code at its defaults (≈ 24,000 batch-5 calls of a 200-step DDPM): ${(120000 / sampleSteps).toFixed(1)}x fewer`,
  );
}
