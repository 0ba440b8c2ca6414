/**
 * No silent substitution: what a plan asks for (src/core/serving.ts), computed the same way on
 * both sides — by whoever starts the plan, from its configuration, and by a worker, from what it
 * loaded — and the task queues named after it.
 *
 *   mewm-gpu-<16 hex>   workers whose world model is exactly that (sha256 of the canonical JSON)
 *   mewm-llm-<16 hex>   workers whose policy is exactly that
 *   mewm-cpu            workflow tasks and ingest/audit/previews (the same code for every plan)
 *
 * Two plans that ask for different policies or models therefore never share GPU or LLM workers,
 * whichever process started them; a plan whose workers are missing waits on its own queue (the CLI
 * says which) instead of being planned by whatever polls a shared one.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { MewmConfig } from '../src/config/config';
import { MewmError } from '../src/core/errors';
import { createWorldModel } from '../src/backends/world-model';
import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  canonicalJson,
  describePolicyRequirement,
  describeWorldModelRequirement,
  type ModelRequirement,
  type PlanRequirements,
  type PolicyRequirement,
  type ServingQueues,
  type WorldModelRequirement,
} from '../src/core/serving';
import type { ModelIdentity, WorldModel } from '../src/models/world-model';
import type { PolicyConfig } from '../src/policy/config';
import type { ActionPolicy } from '../src/policy/policy';
import { askedForQuery, type AskedFor } from '../workflows/queries';
import type { PlanSettings } from '../workflows/types';
import { TASK_QUEUES } from '../workflows/task-queues';

/** What one worker process serves: the parts its roles loaded. */
export interface ServedRequirements {
  readonly policy?: PolicyRequirement;
  readonly worldModel?: WorldModelRequirement;
}

/** The URL without credentials, query or fragment (a key can hide in any of them). */
function publicUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return '(not a URL)';
  }
}

/** The policy a PolicyConfig builds (src/policy/index.ts createPolicy makes the same choice). */
export function policyRequirementOf(config: PolicyConfig): PolicyRequirement {
  if (config.actionBase) return { kind: 'action-base' };
  const llm = config.llm;
  if (!llm) return { kind: 'guideline' };
  return {
    kind: 'llm',
    endpoint: {
      baseUrl: publicUrl(llm.baseURL),
      model: llm.model,
      ...(llm.refineModel ? { refineModel: llm.refineModel } : {}),
      outputMode: llm.outputMode,
      refineOutputMode: llm.refineOutputMode,
      sendImages: llm.sendImages,
      ...(llm.maxTokens !== undefined ? { maxTokens: llm.maxTokens } : {}),
      repairAttempts: llm.repairAttempts,
    },
  };
}

/**
 * The requirement of a policy object given without its configuration (tests, `mewm evaluate`'s
 * per-method workers): guideline and action-base are exact; an LLM policy is named by its models
 * only, under the endpoint `in-process:<name>`, so that it can never stand in for a configured endpoint.
 */
export function policyRequirementOfPolicy(policy: ActionPolicy): PolicyRequirement {
  const { name, models = [], version } = policy.identity;
  if (name === 'guideline' || name === 'action-base') return { kind: name };
  return {
    kind: 'llm',
    endpoint: {
      baseUrl: `in-process:${version}`,
      model: models[0] ?? 'unknown',
      ...(models[1] ? { refineModel: models[1] } : {}),
      outputMode: 'in-process',
      refineOutputMode: 'in-process',
      sendImages: true,
      repairAttempts: 0,
    },
  };
}

/** The runtime settings that change an ONNX world model's numbers (null where the runtime's default applies). */
async function onnxRuntime(config: MewmConfig['worldModel']): Promise<NonNullable<WorldModelRequirement['runtime']>> {
  const { DEFAULT_SAMPLER } = await import('../src/models/onnx/world-model');
  const sampler = config.sampler ?? DEFAULT_SAMPLER;
  return {
    sampler: { method: sampler.method, steps: sampler.steps },
    executionProvider: config.executionProvider,
    maxBatch: config.maxBatch,
    intraOpThreads: config.intraOpThreads,
  };
}

const modelOf = ({ name, version, sha256 }: ModelIdentity): ModelRequirement => ({ name, version, sha256 });

/** What a loaded world model serves (its identities) under this process's runtime settings. */
export async function worldModelRequirementOf(world: WorldModel, config: MewmConfig['worldModel']): Promise<WorldModelRequirement> {
  const backend = world.dynamics.identity.backend;
  return {
    backend,
    dynamics: modelOf(world.dynamics.identity),
    assistant: modelOf(world.assistant.identity),
    heuristic: modelOf(world.heuristic.identity),
    ...(backend === 'onnx' ? { runtime: await onnxRuntime(config) } : { oracleLabelCache: config.oracleLabelCache }),
  };
}

/**
 * What the configuration asks for, without running any model: the ONNX manifests (their graph
 * hashes checked against the files, as a worker does), or the oracle itself (it only reads the cohort's truth).
 */
export async function worldModelRequirementFromConfig(config: MewmConfig['worldModel']): Promise<WorldModelRequirement> {
  if (config.backend === 'oracle') {
    const world = await createWorldModel(config);
    try {
      return await worldModelRequirementOf(world, config);
    } finally {
      await world.close();
    }
  }
  if (!config.modelDir)
    throw new MewmError('InvalidConfig', 'MEWM_WORLD_MODEL=onnx needs MEWM_MODEL_DIR (the folder with dynamics/, assistant/, heuristic/)', {
      variable: 'MEWM_MODEL_DIR',
    });
  const { loadModelManifest } = await import('../src/models/manifest');
  const modelDir = config.modelDir;
  const loaded = await Promise.all((['dynamics', 'assistant', 'heuristic'] as const).map((role) => loadModelManifest(join(modelDir, role), role)));
  const [dynamics, assistant, heuristic] = loaded.map(({ manifest, sha256 }) => ({ name: manifest.name, version: manifest.version, sha256 })) as [
    ModelRequirement,
    ModelRequirement,
    ModelRequirement,
  ];
  return { backend: 'onnx', dynamics, assistant, heuristic, runtime: await onnxRuntime(config) };
}

function keyOf(requirement: PolicyRequirement | WorldModelRequirement): string {
  return createHash('sha256').update(canonicalJson(requirement)).digest('hex').slice(0, 16);
}

/** The task queue of GPU workers with exactly this world model. */
export function gpuQueueOf(worldModel: WorldModelRequirement): string {
  return `${TASK_QUEUES.gpu}-${keyOf(worldModel)}`;
}

/** The task queue of LLM workers with exactly this policy. */
export function llmQueueOf(policy: PolicyRequirement): string {
  return `${TASK_QUEUES.llm}-${keyOf(policy)}`;
}

/** The GPU and LLM task queues of workers that serve exactly these. */
export function servingQueues(policy: PolicyRequirement, worldModel: WorldModelRequirement): ServingQueues {
  return { gpu: gpuQueueOf(worldModel), llm: llmQueueOf(policy) };
}

export function planRequirements(policy: PolicyRequirement, worldModel: WorldModelRequirement): PlanRequirements {
  return { schema: 'mewm.requirements/1', policy, worldModel, queues: servingQueues(policy, worldModel) };
}

/** What a plan started with this configuration asks for (its policy unless one is given). */
export async function requirementsFromConfig(config: MewmConfig, policy?: PolicyConfig): Promise<PlanRequirements> {
  const policyConfig = policy ?? config.policy;
  return planRequirements(policyRequirementOf(policyConfig), await worldModelRequirementFromConfig(config.worldModel));
}

/**
 * A command that finds its workflow id already running follows it only when that run asked for
 * exactly the same: otherwise `ServingMismatch` (another policy or model would answer in its name).
 * A run that cannot be asked (no worker hosts it yet) is followed, as before requirements.
 */
export async function assertSameAsked(
  handle: WorkflowHandle,
  asked: { readonly settings: PlanSettings; readonly requirements?: PlanRequirements | undefined },
): Promise<void> {
  let theirs: AskedFor;
  try {
    theirs = await handle.query(askedForQuery);
  } catch {
    return;
  }
  const fail = (message: string) => {
    throw new MewmError(
      'ServingMismatch',
      `workflow ${handle.workflowId} is already running with ${message}: wait for it, terminate it, or give another workflow id`,
      { workflowId: handle.workflowId },
    );
  };
  const ours = asked.requirements ?? null;
  const their = theirs.requirements;
  if (their === null || ours === null) {
    if (their !== ours) fail(their === null ? 'no recorded requirements (started before them)' : 'recorded requirements, and this command gives none');
  } else if (canonicalJson(their.policy) !== canonicalJson(ours.policy)) {
    fail(`the policy ${describePolicyRequirement(their.policy)}, not the policy ${describePolicyRequirement(ours.policy)} this command asks for`);
  } else if (canonicalJson(their) !== canonicalJson(ours)) {
    fail(
      `the world model ${describeWorldModelRequirement(their.worldModel)}, not the world model ${describeWorldModelRequirement(ours.worldModel)} this command asks for`,
    );
  }
  if (canonicalJson(theirs.settings) !== canonicalJson(asked.settings))
    fail('other planning settings than this command asks for (beams, replicas, horizons, seed, ROI or timeouts)');
}

/**
 * The GPU and LLM queues of `requirements` that no worker polls right now, each with what it
 * serves, for a note when workers run elsewhere (TEMPORAL_ADDRESS): such a plan waits until a
 * worker with exactly that configuration starts. A server that cannot say is taken as served.
 */
/** temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY (@temporalio/proto is not a direct dependency). */
const TASK_QUEUE_TYPE_ACTIVITY = 2;

export async function unservedQueues(client: Client, namespace: string, requirements: PlanRequirements): Promise<string[]> {
  const unserved: string[] = [];
  const queues = [
    [requirements.queues.gpu, `world model ${describeWorldModelRequirement(requirements.worldModel)}`, 'gpu'],
    [requirements.queues.llm, `policy ${describePolicyRequirement(requirements.policy)}`, 'llm'],
  ] as const;
  for (const [name, what, role] of queues) {
    try {
      const described = await client.workflowService.describeTaskQueue({ namespace, taskQueue: { name }, taskQueueType: TASK_QUEUE_TYPE_ACTIVITY });
      if ((described.pollers ?? []).length === 0)
        unserved.push(`no worker polls ${name} (${what}): start \`mewm worker --queue ${role}\` with the same configuration`);
    } catch {
      // not answered: say nothing
    }
  }
  return unserved;
}
