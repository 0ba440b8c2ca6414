/**
 * LLM-queue activity (task queue `mewm-llm-<hash of the policy>`, workers/serving.ts): π_VLM
 * proposes the D drug and E embolic candidates (Algorithm 1 line 5). Retries of a flaky endpoint
 * are the policy's own (`LlmUnavailable` is retryable in the code table); an answer that keeps
 * breaking the schema is not.
 */
import type { ArtifactRef } from '../src/artifacts/store';
import type { ActionPolicy, ActionProposal, TumourObservation } from '../src/policy/policy';
import { withTypedFailures } from './failures';
import type { ActivityLogger, ArtifactResolver } from './deps';

export interface ProposeInput {
  readonly caseId: string;
  readonly observation: TumourObservation;
  readonly goal: string;
  readonly drugCount: number;
  readonly embolicCount: number;
  /** PNG key slices of the pre-CT ROI, for multimodal endpoints. */
  readonly keySlices: readonly ArtifactRef[];
}

export interface PolicyDependencies {
  readonly policy: ActionPolicy;
  readonly artifacts: ArtifactResolver;
  readonly log: ActivityLogger;
}

export function createPolicyActivities(deps: PolicyDependencies) {
  async function proposeActions(input: ProposeInput): Promise<ActionProposal> {
    const keySlicesPng = await Promise.all(input.keySlices.map((ref) => deps.artifacts.storeFor(ref.uri).get(ref)));
    const proposal = await deps.policy.propose({
      caseId: input.caseId,
      observation: input.observation,
      goal: input.goal,
      drugCount: input.drugCount,
      embolicCount: input.embolicCount,
      ...(keySlicesPng.length > 0 ? { keySlicesPng } : {}),
    });
    deps.log.info(
      { caseId: input.caseId, policy: proposal.policy.name, drugs: proposal.drugs, embolics: proposal.embolics, removals: proposal.removals.length },
      'policy proposed candidates',
    );
    return proposal;
  }
  return withTypedFailures({ proposeActions });
}

export type PolicyActivities = ReturnType<typeof createPolicyActivities>;
