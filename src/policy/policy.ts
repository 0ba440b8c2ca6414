/**
 * The policy model π_VLM: proposes the candidate drugs (D of them) and embolics (E of them)
 * that the planner explores for one case. Implementations: the deterministic guideline policy
 * (offline default), the LLM policy (any OpenAI-compatible endpoint), optionally refined by a
 * reasoning model. The clinical rules are applied afterwards in every case, and each removal is
 * recorded so the audit shows why an agent disappeared.
 */
import type { DrugId, EmbolicId, RuleId } from '../core/vocabulary';

/** What the policy is told about the case: computed from the pre-CT and its mask, no identifiers. */
export interface TumourObservation {
  readonly tumourCount: number;
  /** Largest lesion diameter, mm. */
  readonly largestDiameterMm: number;
  /** Total tumour volume, ml. */
  readonly totalTumourMl: number;
  readonly liverMl: number;
  /** Tumour burden as a fraction of liver volume. */
  readonly tumourBurden: number;
  /** Mean tumour HU minus mean liver HU: arterial hyper-enhancement when clearly positive. */
  readonly enhancementHu: number;
  /** Coefficient of variation of tumour HU: a heterogeneity proxy. */
  readonly heterogeneity: number;
  /** Lobe of the largest lesion in patient coordinates. */
  readonly location: 'right-lobe' | 'left-lobe' | 'bilobar';
  /** Free-text summary built from the numbers above, for prompts and reports. */
  readonly summary: string;
}

export interface ProposalRequest {
  readonly caseId: string;
  readonly observation: TumourObservation;
  /** The language treatment goal g. */
  readonly goal: string;
  /** Number of drug (D) and embolic (E) candidates wanted. */
  readonly drugCount: number;
  readonly embolicCount: number;
  /** Key slices of the pre-CT as PNG bytes (windowed, tumour outline), for multimodal endpoints. */
  readonly keySlicesPng?: readonly Uint8Array[];
}

export interface RuleRemoval {
  readonly agent: DrugId | EmbolicId;
  readonly rule: RuleId;
  readonly keptInstead: DrugId | EmbolicId;
}

/** A candidate the reasoning model removed as inappropriate for this patient (no rule broken). */
export interface RefinerRemoval {
  readonly agent: DrugId | EmbolicId;
  readonly reason: string;
}

export interface PolicyIdentity {
  readonly name: 'guideline' | 'llm' | 'llm+refine' | 'action-base';
  readonly version: string;
  /** Endpoint model names, when an LLM was used. */
  readonly models?: readonly string[];
  /** Versions of the prompt templates used. */
  readonly promptVersions?: Readonly<Record<string, string>>;
}

/**
 * One LLM exchange behind a proposal, kept for the audit (it travels in the activity result, so
 * in the Temporal history): what answered, to which prompt, in which output mode, after how many
 * re-asks, and what it said. Never holds the key or the request (images, observation).
 */
export interface LlmExchangeRecord {
  /** `propose`, `refine`, `baseline` or `extract`. */
  readonly purpose: string;
  /** The model name the endpoint reported. */
  readonly model: string;
  /** Prompt template key, e.g. `propose.v1`. */
  readonly promptVersion: string;
  /** The response format used (`json_schema`, `json_object_schema`, `json_object`, `none`). */
  readonly outputMode: string;
  /** Chat requests that returned an answer: 1 + re-asks. */
  readonly attempts: number;
  /** Why each re-asked answer was refused (shortened). */
  readonly problems: readonly string[];
  /** The accepted answer as the model wrote it (reasoning blocks removed, at most 4,000 characters). */
  readonly rawAnswer: string;
}

export interface ActionProposal {
  readonly drugs: readonly DrugId[];
  readonly embolics: readonly EmbolicId[];
  readonly rationale: string;
  readonly removals: readonly RuleRemoval[];
  /** Removals by the optional reasoning-model refinement, with its stated reason. */
  readonly refinerRemovals?: readonly RefinerRemoval[];
  readonly policy: PolicyIdentity;
  /** The LLM exchanges behind the proposal (LLM policies only). */
  readonly exchanges?: readonly LlmExchangeRecord[];
}

export interface ActionPolicy {
  readonly identity: PolicyIdentity;
  propose(request: ProposalRequest): Promise<ActionProposal>;
}
