/** Which activities each task queue's workers run, built from the worker's dependencies. */
import { createAuditActivities } from '../activities/audit';
import { createCaseActivities, createCaseGpuActivities } from '../activities/case';
import { createCohortActivities } from '../activities/cohort';
import { createPolicyActivities } from '../activities/policy';
import { createSimulationActivities } from '../activities/simulation';
import { VolumeCache } from '../activities/volume-cache';
import { MewmError } from '../src/core/errors';
import type { QueueRole } from '../workflows/task-queues';
import type { WorkerDependencies } from './dependencies';

type ActivityTable = Record<string, (...args: any[]) => Promise<unknown>>;

function missing(role: QueueRole, what: string): never {
  throw new MewmError('InvalidConfig', `the ${role} worker needs ${what}, which was not configured`);
}

export function activitiesFor(role: QueueRole, deps: WorkerDependencies): ActivityTable {
  const log = deps.log.child({ queue: role });
  const io = { store: deps.store, artifacts: deps.artifacts, log };
  switch (role) {
    case 'gpu': {
      const world = deps.world ?? missing(role, 'a world model (MEWM_WORLD_MODEL)');
      return { ...createSimulationActivities({ ...io, world, volumes: new VolumeCache() }), ...createCaseGpuActivities({ ...io, world }) };
    }
    case 'llm':
      return createPolicyActivities({ policy: deps.policy ?? missing(role, 'a policy'), artifacts: deps.artifacts, log });
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
