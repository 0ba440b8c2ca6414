/**
 * The action-base "policy": proposes the first D drugs and E embolics of the vocabulary in its
 * fixed order (all 12 drugs and 6 embolics for D = 12, E = 6), without judging the case. The
 * clinical rules are left to the planner, which prunes per protocol (`canExtend`): two platinum
 * agents may both be candidates, only never in one protocol. With the oracle world model this
 * gives the planner's upper bound: Algorithm 1 over the whole action base, no policy in the way.
 * Not a clinical policy; name and version say so in every audit.
 */
import { MewmError } from '../core/errors';
import { DRUGS, EMBOLICS } from '../core/vocabulary';
import type { ActionPolicy, ActionProposal, PolicyIdentity, ProposalRequest } from './policy';

export const ACTION_BASE_POLICY_VERSION = 'action-base-2026.1';

export class ActionBasePolicy implements ActionPolicy {
  readonly identity: PolicyIdentity = { name: 'action-base', version: ACTION_BASE_POLICY_VERSION };

  async propose(request: ProposalRequest): Promise<ActionProposal> {
    if (!Number.isInteger(request.drugCount) || request.drugCount < 1 || !Number.isInteger(request.embolicCount) || request.embolicCount < 1) {
      throw new MewmError('InvalidInput', `case ${request.caseId}: drugCount and embolicCount must be positive integers`, { caseId: request.caseId });
    }
    const drugs = DRUGS.slice(0, request.drugCount);
    const embolics = EMBOLICS.slice(0, request.embolicCount);
    return {
      drugs,
      embolics,
      rationale: `Action base (${ACTION_BASE_POLICY_VERSION}): the first ${drugs.length} of ${DRUGS.length} drugs and ${embolics.length} of ${EMBOLICS.length} embolics in vocabulary order, not chosen for this case; the planner applies the clinical rules per protocol.`,
      removals: [],
      policy: this.identity,
    };
  }
}
