/**
 * Policy factory and public surface of `src/policy`. `createPolicy` picks the LLM policy when an
 * endpoint is configured and the guideline policy otherwise; `policy.identity.name` says which.
 */
import type OpenAI from 'openai';
import type { PolicyConfig } from './config';
import { ActionBasePolicy } from './action-base';
import { GuidelinePolicy } from './guideline';
import { LlmPolicy } from './llm-policy';
import type { ActionPolicy, PolicyIdentity } from './policy';

export function createPolicy(config: PolicyConfig, client?: OpenAI): ActionPolicy {
  if (config.actionBase) return new ActionBasePolicy();
  return config.llm ? new LlmPolicy(config.llm, client) : new GuidelinePolicy();
}

/** One line for CLIs and logs, e.g. "policy: llm+refine (gpt-4o, deepseek-reasoner; prompts propose.v1, refine.v1)". */
export function describePolicy(identity: PolicyIdentity): string {
  const models = identity.models && identity.models.length > 0 ? ` (${identity.models.join(', ')})` : '';
  const prompts = identity.promptVersions ? `; prompts ${Object.values(identity.promptVersions).join(', ')}` : '';
  const offline =
    identity.name === 'guideline'
      ? ' [deterministic guideline policy, no LLM endpoint in use]'
      : identity.name === 'action-base'
        ? ' [every vocabulary agent proposed, not a clinical policy]'
        : '';
  return `policy: ${identity.name} ${identity.version}${models}${prompts}${offline}`;
}

export type { ActionPolicy, ActionProposal, PolicyIdentity, ProposalRequest, RuleRemoval, RefinerRemoval, TumourObservation } from './policy';
export { policyConfigFromEnv, llmEndpointConfig, type PolicyConfig, type LlmEndpointConfig } from './config';
export { GuidelinePolicy } from './guideline';
export { ActionBasePolicy } from './action-base';
export { LlmPolicy } from './llm-policy';
export { enforceClinicalRules } from './refine';
export { mapAgentNames, matchAgentName } from './agent-names';
