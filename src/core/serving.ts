/**
 * What a plan asks its workers for, and how a worker tells whether it can serve exactly that.
 *
 * A plan's requirements travel in its workflow input (workflows/types.ts PlanInput.requirements):
 * the policy (kind, and for an LLM the endpoint's base URL and model ids, never the key) and the
 * world model (the sha256 of the dynamics, assistant and heuristic models, plus the runtime
 * settings that change the numbers). Workers poll task queues named after what they serve
 * (workers/serving.ts), and a worker that still receives a task it cannot serve refuses it with
 * the non-retryable `ServingMismatch` (never plans with something else). Pure: safe in workflows.
 */

/** The policy a plan asks for. */
export interface PolicyRequirement {
  readonly kind: 'guideline' | 'llm' | 'action-base';
  /** LLM policies: the endpoint and what shapes its answers. Never the key. */
  readonly endpoint?: {
    /** Base URL without credentials, query or fragment. */
    readonly baseUrl: string;
    readonly model: string;
    readonly refineModel?: string;
    readonly outputMode: string;
    readonly refineOutputMode: string;
    readonly sendImages: boolean;
    readonly maxTokens?: number;
    readonly repairAttempts: number;
  };
}

/** One model as ModelIdentity names it (src/models/world-model.ts). */
export interface ModelRequirement {
  readonly name: string;
  readonly version: string;
  /** ONNX: sha256 over the manifest's graph hashes; oracle: sha256 of world.json. */
  readonly sha256: string;
}

/** The world model a plan asks for: the three models by name, version and hash, and the settings that change their numbers. */
export interface WorldModelRequirement {
  readonly backend: 'oracle' | 'onnx';
  readonly dynamics: ModelRequirement;
  readonly assistant: ModelRequirement;
  readonly heuristic: ModelRequirement;
  /** ONNX: the sampler and its steps, the execution provider, batch and intra-op threads (each changes bits). */
  readonly runtime?: {
    readonly sampler: { readonly method: string; readonly steps: number };
    readonly executionProvider: string;
    readonly maxBatch: number | null;
    readonly intraOpThreads: number | null;
  };
  /** Oracle: the in-process label cache (changes scores across workers). */
  readonly oracleLabelCache?: boolean;
}

/** Task queues of the roles whose workers differ by what they serve. */
export interface ServingQueues {
  readonly gpu: string;
  readonly llm: string;
}

export interface PlanRequirements {
  readonly schema: 'mewm.requirements/1';
  readonly policy: PolicyRequirement;
  readonly worldModel: WorldModelRequirement;
  /** The queues whose workers serve exactly these (named from a hash of each requirement, workers/serving.ts). */
  readonly queues: ServingQueues;
}

/** A canonical JSON text (sorted keys, no undefined): equal requirements give equal texts. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** One line naming a policy requirement (for messages and `mewm plan`): kind, endpoint and model, never a key. */
export function describePolicyRequirement(p: PolicyRequirement): string {
  if (!p.endpoint) return p.kind;
  const e = p.endpoint;
  return `${p.kind} (${e.baseUrl}, model ${e.model}${e.refineModel ? `, refine ${e.refineModel}` : ''}, output ${e.outputMode}${e.sendImages ? '' : ', no images'}${e.maxTokens === undefined ? '' : `, max_tokens ${e.maxTokens}`})`;
}

/** One line naming a world-model requirement: backend, short hashes and runtime settings. */
export function describeWorldModelRequirement(w: WorldModelRequirement): string {
  const short = (m: ModelRequirement) => `${m.name} ${m.version} ${m.sha256.slice(0, 12)}`;
  const runtime = w.runtime
    ? `; ${w.runtime.sampler.method} ${w.runtime.sampler.steps} steps, ${w.runtime.executionProvider}, batch ${w.runtime.maxBatch ?? 'default'}, threads ${w.runtime.intraOpThreads ?? 'default'}`
    : '';
  const cache = w.oracleLabelCache ? '; label cache on' : '';
  return `${w.backend} (dynamics ${short(w.dynamics)}; assistant ${short(w.assistant)}; heuristic ${short(w.heuristic)}${runtime}${cache})`;
}

/** Why `served` cannot stand in for `asked` (one line), or null when it is exactly what was asked. */
export function servingMismatch(
  role: 'policy' | 'world model',
  asked: PolicyRequirement | WorldModelRequirement,
  served: PolicyRequirement | WorldModelRequirement,
): string | null {
  if (canonicalJson(asked) === canonicalJson(served)) return null;
  const describe = (r: PolicyRequirement | WorldModelRequirement) => ('kind' in r ? describePolicyRequirement(r) : describeWorldModelRequirement(r));
  return `the plan asked for the ${role} ${describe(asked)}, but this worker serves ${describe(served)}`;
}
