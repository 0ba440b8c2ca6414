/**
 * One proxy per task queue and timeout profile. GPU activities heartbeat: a killed GPU worker is
 * noticed after `gpuHeartbeatS` and the activity is retried on another worker, resuming from its
 * last heartbeat. Non-retryable failures (bad input, broken models) are marked where they are thrown.
 */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { AuditActivities } from '../activities/audit';
import type { CaseActivities, CaseGpuActivities } from '../activities/case';
import type { CohortActivities } from '../activities/cohort';
import type { PolicyActivities } from '../activities/policy';
import type { SimulationActivities } from '../activities/simulation';
import type { PlanRequirements, PolicyRequirement, WorldModelRequirement } from '../src/core/serving';
import type { ActivityTimeouts } from './types';
import { TASK_QUEUES } from './task-queues';

/** Activities whose input may carry the plan's requirement for their role (checked by the worker, workers/activities.ts). */
export type Requiring<A, R> = { [K in keyof A]: A[K] extends (input: infer I) => infer O ? (input: I & { readonly requires?: R }) => O : A[K] };

function retry(t: ActivityTimeouts): ActivityOptions['retry'] {
  return { initialInterval: `${t.initialRetryIntervalS}s`, backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: t.maximumAttempts };
}

/**
 * With `requirements` (plans started since requirements exist), GPU and LLM activities go to the
 * queues of workers that serve exactly the plan's world model and policy; without (older
 * histories), to the shared queues they went to then, so those histories replay unchanged.
 */
export function activityProfiles(t: ActivityTimeouts, requirements?: PlanRequirements) {
  const cpu = proxyActivities<CaseActivities & AuditActivities & CohortActivities>({
    taskQueue: TASK_QUEUES.cpu,
    startToCloseTimeout: `${t.cpuStartToCloseS}s`,
    retry: retry(t),
  });
  const gpu = proxyActivities<Requiring<SimulationActivities & CaseGpuActivities, WorldModelRequirement>>({
    taskQueue: requirements?.queues.gpu ?? TASK_QUEUES.gpu,
    startToCloseTimeout: `${t.gpuStartToCloseS}s`,
    heartbeatTimeout: `${t.gpuHeartbeatS}s`,
    retry: retry(t),
  });
  const llm = proxyActivities<Requiring<PolicyActivities, PolicyRequirement>>({
    taskQueue: requirements?.queues.llm ?? TASK_QUEUES.llm,
    startToCloseTimeout: `${t.llmStartToCloseS}s`,
    retry: retry(t),
  });
  return { cpu, gpu, llm };
}
