/** Which activities each task queue's workers run, built from the worker's dependencies. */
import { createAuditActivities } from '../activities/audit';
import { createCaseActivities, createCaseGpuActivities } from '../activities/case';
import { createCohortActivities } from '../activities/cohort';
import { createPolicyActivities } from '../activities/policy';
import { createSimulationActivities } from '../activities/simulation';
import { VolumeCache } from '../activities/volume-cache';
import { toApplicationFailure } from '../activities/failures';
import { MewmError } from '../src/core/errors';
import { servingMismatch, type PolicyRequirement, type WorldModelRequirement } from '../src/core/serving';
import type { QueueRole } from '../workflows/task-queues';
import type { WorkerDependencies } from './dependencies';

type ActivityTable = Record<string, (...args: any[]) => Promise<unknown>>;

function missing(role: QueueRole, what: string): never {
  throw new MewmError('InvalidConfig', `the ${role} worker needs ${what}, which was not configured`);
}

/**
 * Each activity refuses, before doing anything, an input whose `requires` (the plan's requirement
 * for this role, src/core/serving.ts) is not exactly what this worker serves: `ServingMismatch`,
 * non-retryable, so the plan fails with the reason instead of being planned with something else.
 * Inputs without `requires` (plans started before requirements existed) are served as before.
 */
export function refusingOthers<R extends PolicyRequirement | WorldModelRequirement>(
  role: 'policy' | 'world model',
  served: R,
  activities: ActivityTable,
): ActivityTable {
  const guarded: ActivityTable = {};
  for (const [name, fn] of Object.entries(activities)) {
    const run = async (...args: unknown[]) => {
      const requires = (args[0] as { requires?: R } | undefined)?.requires;
      const mismatch = requires === undefined ? null : servingMismatch(role, requires, served);
      if (mismatch !== null) {
        const caseId = (args[0] as { caseId?: unknown }).caseId;
        throw toApplicationFailure(
          new MewmError('ServingMismatch', `${typeof caseId === 'string' ? `case ${caseId}: ` : ''}${mismatch}; start a worker with that configuration`),
        );
      }
      return fn(...args);
    };
    Object.defineProperty(run, 'name', { value: name });
    guarded[name] = run;
  }
  return guarded;
}

export function activitiesFor(role: QueueRole, deps: WorkerDependencies): ActivityTable {
  const log = deps.log.child({ queue: role });
  const io = { store: deps.store, artifacts: deps.artifacts, log };
  switch (role) {
    case 'gpu': {
      const world = deps.world ?? missing(role, 'a world model (MEWM_WORLD_MODEL)');
      const served = deps.serves.worldModel ?? missing(role, 'a world model (MEWM_WORLD_MODEL)');
      return refusingOthers('world model', served, {
        ...createSimulationActivities({ ...io, world, volumes: new VolumeCache() }),
        ...createCaseGpuActivities({ ...io, world }),
      });
    }
    case 'llm': {
      const policy = deps.policy ?? missing(role, 'a policy');
      const served = deps.serves.policy ?? missing(role, 'a policy');
      return refusingOthers('policy', served, createPolicyActivities({ policy, artifacts: deps.artifacts, log }));
    }
    case 'cpu':
      return {
        ...createCaseActivities({
          ...io,
          observe: deps.observe ?? missing(role, 'the tumour observation (src/policy/observation)'),
          ...(deps.readDicomSeries ? { readDicomSeries: deps.readDicomSeries } : {}),
          ...(deps.ingestLimits ? { limits: deps.ingestLimits } : {}),
        }),
        ...createAuditActivities(io),
        ...createCohortActivities({ log, artifacts: deps.artifacts }),
      };
  }
}
