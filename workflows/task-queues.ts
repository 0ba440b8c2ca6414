/**
 * Task queues: GPU work (dynamics, segmentation, survival), LLM calls (policy) and CPU/IO work
 * (ingest, audit, previews, cohort bookkeeping, and all workflow tasks) scale independently.
 * `mewm-cpu` is the queue itself; `mewm-gpu` and `mewm-llm` are the stems of the queues named
 * after what their workers serve (`mewm-gpu-<hash>`, workers/serving.ts), and the queues of plans
 * recorded before requirements.
 */
export const TASK_QUEUES = {
  gpu: 'mewm-gpu',
  llm: 'mewm-llm',
  cpu: 'mewm-cpu',
} as const;

export type QueueRole = keyof typeof TASK_QUEUES;
export const QUEUE_ROLES: readonly QueueRole[] = ['gpu', 'llm', 'cpu'];
