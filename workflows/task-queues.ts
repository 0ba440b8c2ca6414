/**
 * Task queues: GPU work (dynamics, segmentation, survival), LLM calls (policy) and CPU/IO work
 * (ingest, audit, previews, cohort bookkeeping, and all workflow tasks) scale independently.
 */
export const TASK_QUEUES = {
  gpu: 'mewm-gpu',
  llm: 'mewm-llm',
  cpu: 'mewm-cpu',
} as const;

export type QueueRole = keyof typeof TASK_QUEUES;
export const QUEUE_ROLES: readonly QueueRole[] = ['gpu', 'llm', 'cpu'];
