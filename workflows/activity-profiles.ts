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
import type { ActivityTimeouts } from './types';
import { TASK_QUEUES } from './task-queues';

function retry(t: ActivityTimeouts): ActivityOptions['retry'] {
  return { initialInterval: `${t.initialRetryIntervalS}s`, backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: t.maximumAttempts };
}

export function activityProfiles(t: ActivityTimeouts) {
  const cpu = proxyActivities<CaseActivities & AuditActivities & CohortActivities>({
    taskQueue: TASK_QUEUES.cpu,
    startToCloseTimeout: `${t.cpuStartToCloseS}s`,
    retry: retry(t),
  });
  const gpu = proxyActivities<SimulationActivities & CaseGpuActivities>({
    taskQueue: TASK_QUEUES.gpu,
    startToCloseTimeout: `${t.gpuStartToCloseS}s`,
    heartbeatTimeout: `${t.gpuHeartbeatS}s`,
    retry: retry(t),
  });
  const llm = proxyActivities<PolicyActivities>({
    taskQueue: TASK_QUEUES.llm,
    startToCloseTimeout: `${t.llmStartToCloseS}s`,
    retry: retry(t),
  });
  return { cpu, gpu, llm };
}
