/**
 * Compares the fault-free reference run and the fault run of infra/production/run-overnight.sh and
 * writes the JSON summary: patients lost or planned twice, plans identical to the reference (the
 * protocol and risk bit for bit, the whole search trace, and every beam step's audit record:
 * per-replica risks and the sha256 of every simulated CT and mask), patients/hour, the recovery of
 * every injected fault, and event-history sizes per workflow type.
 *
 *   node --import tsx infra/production/summarize.ts --manifest FILE --reference ID --faults ID
 *        --events FILE --out FILE [--expect-faults N] [--outcomes DIR] [--temporal-version V] [--postgres-version V]
 *
 * Reads TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE and the S3 settings from the environment like every
 * mewm process (src/config). Prints the summary's headline figures; exit status 1 when a patient
 * is lost or planned twice, a plan differs, or fewer faults than --expect-faults were injected.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, type WorkflowExecutionInfo } from '@temporalio/client';
// @temporalio/proto is CommonJS (and comes with @temporalio/client): its namespace is the default export.
import proto from '@temporalio/proto';
import { ArtifactStores } from '../../src/artifacts';
import { loadConfig } from '../../src/config/load';
import { readCohortOutcomes, completedCohort } from '../../src/app/cohort-run';
import type { CohortCaseOutcome, PlanResult } from '../../workflows/types';

const { temporal } = proto;
const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

const { values } = parseArgs({
  options: {
    manifest: { type: 'string' },
    reference: { type: 'string' },
    faults: { type: 'string' },
    events: { type: 'string' },
    out: { type: 'string' },
    outcomes: { type: 'string' },
    'temporal-version': { type: 'string' },
    'postgres-version': { type: 'string' },
    'expect-faults': { type: 'string' },
  },
});
for (const name of ['manifest', 'reference', 'faults', 'events', 'out'] as const) {
  if (!values[name]) {
    process.stderr.write(`summarize: --${name} is required\n`);
    process.exit(2);
  }
}
const phases = { reference: values.reference!, faults: values.faults! } as const;
const expectedFaults = Number(values['expect-faults'] ?? 0);
type Phase = keyof typeof phases;

const config = loadConfig({ env: process.env });
if (config.temporal.address === null) throw new Error('summarize: set TEMPORAL_ADDRESS');
const connection = await Connection.connect({ address: config.temporal.address });
const client = new Client({ connection, namespace: config.temporal.namespace });
const stores = new ArtifactStores(config.artifacts.s3, {}, config.artifacts);

const manifestCases = (await readFile(values.manifest!, 'utf8'))
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => (JSON.parse(line) as { caseId: string }).caseId);
const events = (await readFile(values.events!, 'utf8'))
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map(
    (line) =>
      JSON.parse(line) as {
        event: string;
        mode?: string;
        phase: string;
        at: number;
        back?: number;
        completedPlans?: number;
        role?: string;
        exitCode?: number;
        loadAverage?: string;
      },
  );

// ------------------------------------------------------------------------------------------------
// Histories
function ms(ts: HistoryEvent['eventTime']): number {
  if (!ts) return NaN;
  const seconds = typeof ts.seconds === 'object' && ts.seconds !== null ? ts.seconds.toNumber() : Number(ts.seconds ?? 0);
  return seconds * 1000 + (ts.nanos ?? 0) / 1e6;
}

interface Execution {
  readonly info: WorkflowExecutionInfo;
  readonly events: HistoryEvent[];
  readonly bytes: number;
}

async function list(query: string): Promise<WorkflowExecutionInfo[]> {
  const out: WorkflowExecutionInfo[] = [];
  for await (const info of client.workflow.list({ query })) out.push(info);
  return out;
}

async function withHistory(infos: readonly WorkflowExecutionInfo[]): Promise<Execution[]> {
  const out: Execution[] = [];
  for (const info of infos) {
    const history = await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
    // The server's own measure (the one its 50 MB limit applies to) when it reports it, else the encoded size.
    out.push({ info, events: history.events ?? [], bytes: info.historySize ?? temporal.api.history.v1.History.encode(history).finish().length });
  }
  return out;
}

interface PhaseData {
  readonly cohortRuns: Execution[];
  readonly plans: Execution[];
  readonly beamSteps: Execution[];
  readonly outcomes: CohortCaseOutcome[];
  readonly results: Map<string, PlanResult>;
}

async function loadPhase(phase: Phase): Promise<PhaseData> {
  const cohortId = phases[phase];
  const cohortRuns = await withHistory(await list(`WorkflowId = 'cohort-${cohortId}'`));
  const plans = await withHistory(await list(`WorkflowType = 'planTreatment' AND MewmCohortId = '${cohortId}'`));
  let stepInfos: WorkflowExecutionInfo[];
  try {
    stepInfos = await list(`WorkflowType = 'beamStep' AND WorkflowId STARTS_WITH 'plan-${cohortId}-'`);
  } catch {
    stepInfos = (await list(`WorkflowType = 'beamStep'`)).filter((info) => info.workflowId.startsWith(`plan-${cohortId}-`));
  }
  const beamSteps = await withHistory(stepInfos);
  const completed = await completedCohort(client, `cohort-${cohortId}`);
  const outcomes = completed ? await readCohortOutcomes(stores, completed.result) : [];
  const results = new Map<string, PlanResult>();
  for (const plan of plans) {
    if (plan.info.status.name !== 'COMPLETED') continue;
    const result = (await client.workflow.getHandle(plan.info.workflowId, plan.info.runId).result()) as PlanResult;
    results.set(result.caseId, result);
  }
  if (values.outcomes) {
    await mkdir(values.outcomes, { recursive: true });
    await writeFile(join(values.outcomes, `outcomes-${phase}.jsonl`), outcomes.map((o) => `${JSON.stringify(o)}\n`).join(''));
  }
  return { cohortRuns, plans, beamSteps, outcomes, results };
}

const data: Record<Phase, PhaseData> = { reference: await loadPhase('reference'), faults: await loadPhase('faults') };

// ------------------------------------------------------------------------------------------------
// Patients lost or planned twice
function patientAccounting(d: PhaseData) {
  const runsPerPlan = new Map<string, { completed: number; other: string[] }>();
  for (const plan of d.plans) {
    const entry = runsPerPlan.get(plan.info.workflowId) ?? { completed: 0, other: [] };
    if (plan.info.status.name === 'COMPLETED') entry.completed++;
    else entry.other.push(plan.info.status.name);
    runsPerPlan.set(plan.info.workflowId, entry);
  }
  const outcomeCount = new Map<string, number>();
  for (const o of d.outcomes) outcomeCount.set(o.caseId, (outcomeCount.get(o.caseId) ?? 0) + 1);
  const lost = manifestCases.filter((caseId) => !d.results.has(caseId) || d.outcomes.find((o) => o.caseId === caseId)?.status !== 'completed');
  const plannedTwice = [...runsPerPlan].filter(([, e]) => e.completed > 1).map(([id]) => id);
  const duplicateOutcomes = [...outcomeCount].filter(([, n]) => n > 1).map(([caseId]) => caseId);
  const stepRuns = new Map<string, number>();
  for (const step of d.beamSteps) if (step.info.status.name === 'COMPLETED') stepRuns.set(step.info.workflowId, (stepRuns.get(step.info.workflowId) ?? 0) + 1);
  return {
    patients: manifestCases.length,
    outcomes: d.outcomes.length,
    completed: d.outcomes.filter((o) => o.status === 'completed').length,
    failed: d.outcomes.filter((o) => o.status === 'failed').length,
    skipped: d.outcomes.filter((o) => o.status === 'skipped').length,
    lost: lost.length,
    lostCases: lost,
    plannedTwice: plannedTwice.length + duplicateOutcomes.length,
    planWorkflowsCompletedTwice: plannedTwice,
    casesWithTwoOutcomes: duplicateOutcomes,
    planRunsNotCompleted: [...runsPerPlan].flatMap(([id, e]) => e.other.map((status) => ({ workflowId: id, status }))),
    beamStepsCompleted: [...stepRuns.values()].reduce((a, b) => a + b, 0),
    beamStepsCompletedTwice: [...stepRuns].filter(([, n]) => n > 1).map(([id]) => id),
    cohortRuns: d.cohortRuns.length,
  };
}

// ------------------------------------------------------------------------------------------------
// Plan identity
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** What must not depend on faults: everything but ids, artifact locations (another S3 prefix), timings and resume counts. */
function strip(value: unknown, drop: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => strip(v, drop));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([key]) => !drop.has(key))
        .map(([key, v]) => [key, strip(v, drop)]),
    );
  }
  return value;
}
const VOLATILE = new Set(['planId', 'workflowId', 'uri', 'audit', 'computedReplicas', 'resumedReplicas', 'timings', 'simulation', 'requirements']);

async function auditsOf(result: PlanResult): Promise<string[]> {
  const out: string[] = [];
  for (const step of result.steps) {
    const bytes = await stores.storeFor(step.audit.uri).get(step.audit);
    out.push(canonical(strip(JSON.parse(new TextDecoder().decode(bytes)), VOLATILE)));
  }
  return out;
}

const comparisons: { caseId: string; protocolAndRisk: boolean; searchTrace: boolean; audits: boolean }[] = [];
for (const caseId of manifestCases) {
  const a = data.reference.results.get(caseId);
  const b = data.faults.results.get(caseId);
  if (!a || !b) {
    comparisons.push({ caseId, protocolAndRisk: false, searchTrace: false, audits: false });
    continue;
  }
  const protocolAndRisk = canonical(a.protocol) === canonical(b.protocol) && Object.is(a.risk, b.risk);
  const searchTrace = canonical(strip(a, VOLATILE)) === canonical(strip(b, VOLATILE));
  const [auditA, auditB] = [await auditsOf(a), await auditsOf(b)];
  comparisons.push({ caseId, protocolAndRisk, searchTrace, audits: auditA.length === auditB.length && auditA.every((x, i) => x === auditB[i]) });
}
const referenceOutcomesMatch = manifestCases.filter((caseId) => {
  const a = data.reference.outcomes.find((o) => o.caseId === caseId);
  const b = data.faults.outcomes.find((o) => o.caseId === caseId);
  return a && b && a.status === b.status && canonical(a.protocol) === canonical(b.protocol) && Object.is(a.risk, b.risk) && a.errorType === b.errorType;
}).length;

// ------------------------------------------------------------------------------------------------
// Timing: throughput, GPU activity completions, retries, recovery after each fault
interface ActivityEvent {
  readonly at: number;
  readonly type: string;
  readonly queue: string;
  readonly attempt?: number;
  readonly lastFailure?: string;
}

function activityEvents(d: PhaseData) {
  const completions: ActivityEvent[] = [];
  const retries: ActivityEvent[] = [];
  const durations: number[] = [];
  const workflowTasks: number[] = [];
  for (const execution of [...d.cohortRuns, ...d.plans, ...d.beamSteps]) {
    const scheduled = new Map<number, { type: string; queue: string }>();
    const started = new Map<number, number>();
    for (const event of execution.events) {
      const id = Number(event.eventId);
      const at = ms(event.eventTime);
      switch (event.eventType) {
        case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
          const attrs = event.activityTaskScheduledEventAttributes!;
          scheduled.set(id, { type: attrs.activityType?.name ?? '?', queue: attrs.taskQueue?.name ?? '?' });
          break;
        }
        case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
          const attrs = event.activityTaskStartedEventAttributes!;
          const s = scheduled.get(Number(attrs.scheduledEventId));
          started.set(Number(attrs.scheduledEventId), at);
          if ((attrs.attempt ?? 1) > 1 && s)
            retries.push({ at, type: s.type, queue: s.queue, attempt: attrs.attempt ?? 1, lastFailure: attrs.lastFailure?.message ?? '' });
          break;
        }
        case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
          const scheduledId = Number(event.activityTaskCompletedEventAttributes!.scheduledEventId);
          const s = scheduled.get(scheduledId);
          if (s) completions.push({ at, type: s.type, queue: s.queue });
          const begin = started.get(scheduledId);
          if (s?.queue.startsWith('mewm-gpu') && begin !== undefined) durations.push(at - begin);
          break;
        }
        case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
          workflowTasks.push(at);
          break;
        default:
      }
    }
  }
  const byTime = (a: ActivityEvent, b: ActivityEvent) => a.at - b.at;
  return {
    completions: completions.sort(byTime),
    retries: retries.sort(byTime),
    gpuDurations: durations.sort((a, b) => a - b),
    workflowTasks: workflowTasks.sort((a, b) => a - b),
  };
}

function quantiles(xs: readonly number[]) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
  return { n: s.length, min: s[0]!, median: q(0.5), p95: q(0.95), max: s.at(-1)! };
}
const seconds = (x: number) => Math.round(x) / 1000;

function cohortWindow(d: PhaseData): { start: number; end: number } {
  const starts = d.cohortRuns.map((r) => r.info.startTime.getTime());
  const ends = d.cohortRuns.map((r) => r.info.closeTime?.getTime() ?? NaN);
  return { start: Math.min(...starts), end: Math.max(...ends) };
}

function phaseFigures(phase: Phase) {
  const d = data[phase];
  const window = cohortWindow(d);
  const wallS = (window.end - window.start) / 1000;
  const completed = d.outcomes.filter((o) => o.status === 'completed').length;
  const a = activityEvents(d);
  const gpu = a.completions.filter((c) => c.queue.startsWith('mewm-gpu')).map((c) => c.at);
  const gaps = gpu.slice(1).map((t, i) => t - gpu[i]!);
  const planDurations = d.plans.filter((p) => p.info.closeTime).map((p) => p.info.closeTime!.getTime() - p.info.startTime.getTime());
  const loadAverage = (name: string) => events.find((e) => e.event === name && e.phase === phase)?.loadAverage ?? null;
  return {
    cohortId: phases[phase],
    /** The host's 1/5/15-minute load averages when the phase started and ended (other jobs share the host: throughput varies with them). */
    loadAverage: { start: loadAverage('phase-start'), end: loadAverage('phase-end') },
    wallS: Math.round(wallS * 10) / 10,
    patientsPerHour: Math.round((completed / wallS) * 3600 * 10) / 10,
    planDurationS: mapQ(quantiles(planDurations)),
    gpuActivityDurationS: mapQ(quantiles(a.gpuDurations)),
    gapBetweenGpuCompletionsS: mapQ(quantiles(gaps)),
    activityRetries: a.retries.map((r) => ({ atS: seconds(r.at - window.start), type: r.type, attempt: r.attempt, lastFailure: r.lastFailure })),
    window,
    activity: a,
  };
}
function mapQ(q: ReturnType<typeof quantiles>) {
  return q === null ? null : { n: q.n, min: seconds(q.min), median: seconds(q.median), p95: seconds(q.p95), max: seconds(q.max) };
}

const figures = { reference: phaseFigures('reference'), faults: phaseFigures('faults') };

const injected = events.filter((e) => e.phase === 'faults' && ['kill-gpu', 'restart-temporal', 'restart-postgres'].includes(e.event));
/**
 * The GPU retry each fault caused. A killed activity is retried only after its heartbeat timeout,
 * possibly after the next fault: a kill's retry is the first GPU retry before the next kill; any
 * other fault's, the first GPU retry before the next fault that no kill claimed.
 */
const gpuRetries = figures.faults.activity.retries.filter((r) => r.queue.startsWith('mewm-gpu'));
const retryOf = new Map<number, ActivityEvent>();
injected.forEach((e, i) => {
  if (e.event !== 'kill-gpu') return;
  const nextKill = injected.slice(i + 1).find((k) => k.event === 'kill-gpu')?.at ?? Infinity;
  const retry = gpuRetries.find((r) => r.at > e.at && r.at < nextKill);
  if (retry) retryOf.set(i, retry);
});
const claimed = new Set(retryOf.values());
injected.forEach((e, i) => {
  if (e.event === 'kill-gpu') return;
  const nextFault = injected[i + 1]?.at ?? Infinity;
  const retry = gpuRetries.find((r) => r.at > e.at && r.at < nextFault && !claimed.has(r));
  if (retry) retryOf.set(i, retry);
});
const faultFigures = injected.map((e, i) => {
  const { activity, window } = figures.faults;
  const gpuAfter = activity.completions.find((c) => c.queue.startsWith('mewm-gpu') && c.at > e.at);
  const gpuAfterBack = activity.completions.find((c) => c.queue.startsWith('mewm-gpu') && c.at > (e.back ?? e.at));
  const anyAfterBack = activity.completions.find((c) => c.at > (e.back ?? e.at));
  const wfTaskAfterBack = activity.workflowTasks.find((t) => t > (e.back ?? e.at));
  const retry = retryOf.get(i);
  const lastGpuBefore = [...activity.completions].reverse().find((c) => c.queue.startsWith('mewm-gpu') && c.at <= e.at);
  return {
    fault: e.event,
    /** crash (kill -9, Postgres immediate shutdown) or graceful (SIGTERM, pg_ctl -m fast). */
    mode: e.mode ?? (e.event === 'kill-gpu' ? 'crash' : 'graceful'),
    atS: seconds(e.at - window.start),
    afterCompletedPlans: e.completedPlans,
    /** How long the component was away: kill → worker polling again, or stop → healthy again. */
    downS: e.back !== undefined ? seconds(e.back - e.at) : null,
    /** Fault → the killed GPU activity's next attempt started (kill-gpu), or the first GPU activity retried after it. */
    gpuRetryStartedAfterS: retry ? seconds(retry.at - e.at) : null,
    gpuRetryActivity: retry ? `${retry.type} attempt ${retry.attempt}` : null,
    gpuRetryLastFailure: retry?.lastFailure ?? null,
    /** Fault → the first workflow task completed once the component was back. */
    firstWorkflowTaskAfterS: wfTaskAfterBack !== undefined ? seconds(wfTaskAfterBack - e.at) : null,
    /** Fault → the first activity of any queue completed once the component was back. */
    firstActivityAfterS: anyAfterBack ? seconds(anyAfterBack.at - e.at) : null,
    /** Fault → the first GPU activity completed once the component was back: GPU work flows again. */
    recoveryS: gpuAfterBack ? seconds(gpuAfterBack.at - e.at) : null,
    /** The GPU queue's longest silence around the fault (last completion before → first after). */
    gpuStallS: gpuAfter && lastGpuBefore ? seconds(gpuAfter.at - lastGpuBefore.at) : null,
  };
});

/** Beam steps whose simulation was resumed by a later attempt: replicas taken over vs computed again. */
const resumedSteps = [...data.faults.results.values()].flatMap((result) =>
  result.steps
    .filter((step) => step.resumedReplicas > 0)
    .map((step) => ({ step: `${result.caseId} ${step.phase}-${step.step}`, resumedReplicas: step.resumedReplicas, computedReplicas: step.computedReplicas })),
);

function historySizes(d: PhaseData) {
  const group = (xs: readonly Execution[]) => ({
    workflows: xs.length,
    events: quantiles(xs.map((x) => x.events.length)),
    bytes: quantiles(xs.map((x) => x.bytes)),
    totalBytes: xs.reduce((s, x) => s + x.bytes, 0),
  });
  return { runCohort: group(d.cohortRuns), planTreatment: group(d.plans), beamStep: group(d.beamSteps) };
}

const accounting = { reference: patientAccounting(data.reference), faults: patientAccounting(data.faults) };
const identical = {
  protocolAndRisk: comparisons.filter((c) => c.protocolAndRisk).length,
  searchTrace: comparisons.filter((c) => c.searchTrace).length,
  auditRecords: comparisons.filter((c) => c.audits).length,
  outcomeLines: referenceOutcomesMatch,
  of: manifestCases.length,
  differing: comparisons.filter((c) => !(c.protocolAndRisk && c.searchTrace && c.audits)).map((c) => c.caseId),
};
const { activity: _ra, window: _rw, ...referenceFigures } = figures.reference;
const { activity: _fa, window: _fw, ...faultsFigures } = figures.faults;
const summary = {
  schema: 'mewm.production-run/1',
  date: new Date().toISOString(),
  host: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) },
  topology: {
    temporalServer: values['temporal-version'] ?? null,
    postgres: values['postgres-version'] ?? null,
    artifactStore: 's3rver (S3-compatible), s3://mewm/<phase>',
    workers: 'three processes: mewm worker --queue gpu | llm | cpu',
  },
  settings: Object.fromEntries(
    Object.entries(process.env)
      .filter(([key]) => /^MEWM_(WORLD_MODEL|ROI_|BEAMS|DRUG_|EMBOLIC_|REPLICAS|COHORT_|GPU_|PREVIEWS|SIMULATE)/.test(key))
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  ),
  patients: manifestCases.length,
  reference: { ...referenceFigures, accounting: accounting.reference },
  faults: { ...faultsFigures, accounting: accounting.faults, expectedFaults, injected: faultFigures, resumedSteps },
  /** Processes that died on their own (not injected) and were restarted by the script's supervisor loop. */
  unplannedExits: events.filter((e) => e.event === 'worker-exited' || e.event === 'temporal-exited'),
  identical,
  historySizes: { reference: historySizes(data.reference), faults: historySizes(data.faults) },
};
await writeFile(values.out!, `${JSON.stringify(summary, null, 2)}\n`);

const ok =
  faultFigures.length === expectedFaults &&
  accounting.faults.lost === 0 &&
  accounting.faults.plannedTwice === 0 &&
  identical.protocolAndRisk === manifestCases.length &&
  identical.auditRecords === manifestCases.length;
process.stdout.write(
  [
    `patients: ${manifestCases.length}; reference ${referenceFigures.patientsPerHour} patients/h (${referenceFigures.wallS} s), with faults ${faultsFigures.patientsPerHour} patients/h (${faultsFigures.wallS} s)`,
    `lost: ${accounting.faults.lost}, planned twice: ${accounting.faults.plannedTwice}, plan runs not completed: ${accounting.faults.planRunsNotCompleted.length}`,
    `identical to the reference: protocol+risk ${identical.protocolAndRisk}/${identical.of}, search trace ${identical.searchTrace}/${identical.of}, audit records ${identical.auditRecords}/${identical.of}`,
    `faults injected: ${faultFigures.length} of ${expectedFaults}`,
    ...faultFigures.map(
      (f) => `${f.fault} (${f.mode}) at ${f.atS} s: down ${f.downS} s, GPU retry after ${f.gpuRetryStartedAfterS} s, GPU work again after ${f.recoveryS} s`,
    ),
    `process exits not injected: ${summary.unplannedExits.length}`,
    ok ? 'OK' : 'FAILED',
    '',
  ].join('\n'),
);
stores.close();
await connection.close();
process.exit(ok ? 0 : 1);
