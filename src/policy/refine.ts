/**
 * Refinement of a candidate proposal: an optional reasoning-model call (DeepSeek-R1 style, the
 * paper's §3.1 / B.1) followed, always, by the vocabulary's rule engine.
 *
 * Semantics (see docs/policy.md): the candidate drug set and embolic set are the alternatives
 * the beam search combines. As in the paper, they are refined to be *conflict-free as a whole*:
 * no two candidates break a clinical rule together, so every protocol the planner builds from
 * them is valid (the planner still checks `canExtend`, as a second line). When candidates
 * conflict, the better-ranked one is kept and the other is removed; each removal is recorded
 * with its rule (`RuleRemoval`). The reasoning model may also remove candidates it judges
 * inappropriate for this patient (recorded as `RefinerRemoval`); it may not add new ones.
 */
import type OpenAI from 'openai';
import { z } from 'zod';
import { MewmError } from '../core/errors';
import {
  CLINICAL_RULES,
  DRUG_INFO,
  EMBOLIC_INFO,
  canonicalProtocol,
  isDrug,
  ruleViolations,
  type AgentId,
  type DrugId,
  type EmbolicId,
  type Protocol,
} from '../core/vocabulary';
import { mapAgentNames } from './agent-names';
import type { LlmEndpointConfig } from './config';
import { completeJson, exchangeRecord, type Validation } from './llm-json';
import type { LlmExchangeRecord, RefinerRemoval, RuleRemoval, TumourObservation } from './policy';
import { loadPrompt, renderPrompt } from './prompts';

export interface RuleEnforcement {
  readonly drugs: readonly DrugId[];
  readonly embolics: readonly EmbolicId[];
  readonly removals: readonly RuleRemoval[];
}

/**
 * Keeps candidates in rank order and drops every candidate that would break a clinical rule
 * together with a better-ranked one already kept. Drugs are ranked among drugs, embolics among
 * embolics; rules never span the two phases, so the order between phases does not matter.
 */
export function enforceClinicalRules(rankedDrugs: readonly DrugId[], rankedEmbolics: readonly EmbolicId[]): RuleEnforcement {
  const kept: AgentId[] = [];
  const removals: RuleRemoval[] = [];
  const asProtocol = (agents: readonly AgentId[]): Protocol => ({
    drugs: agents.filter(isDrug),
    embolics: agents.filter((a): a is EmbolicId => !isDrug(a)),
  });
  for (const agent of [...rankedDrugs, ...rankedEmbolics]) {
    if (kept.includes(agent)) {
      removals.push({ agent, rule: 'no-duplicate-agent', keptInstead: agent });
      continue;
    }
    const violations = ruleViolations(asProtocol([...kept, agent]));
    if (violations.length === 0) {
      kept.push(agent);
      continue;
    }
    const first = violations[0]!;
    const keptInstead = first.agents.find((a) => a !== agent && kept.includes(a)) ?? kept[0]!;
    removals.push({ agent, rule: first.rule, keptInstead });
  }
  return { drugs: kept.filter(isDrug), embolics: kept.filter((a): a is EmbolicId => !isDrug(a)), removals };
}

/** The rules as numbered lines, for prompts. */
export function rulesForPrompt(): string {
  return CLINICAL_RULES.map((rule, i) => `${i + 1}. ${rule.description}`).join('\n');
}

export const drugListForPrompt = (): string =>
  Object.values(DRUG_INFO)
    .map((d) => d.displayName)
    .join(', ');
export const embolicListForPrompt = (): string =>
  Object.values(EMBOLIC_INFO)
    .map((e) => e.displayName)
    .join(', ');

/** Throws `RuleViolation` if a protocol (a set that is *one* treatment) breaks any rule. */
export function assertValidProtocol(protocol: Protocol, caseId: string): void {
  const violations = ruleViolations(canonicalProtocol(protocol));
  if (violations.length > 0) {
    throw new MewmError('RuleViolation', `protocol for case ${caseId} breaks ${violations.map((v) => v.rule).join(', ')}`, { caseId, violations });
  }
}

const refinementAnswer = z.object({
  drugs: z.array(z.string()),
  embolics: z.array(z.string()),
  removed: z.array(z.object({ name: z.string(), reason: z.string() })).default([]),
  rationale: z.string().default(''),
});

const REFINEMENT_JSON_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['drugs', 'embolics', 'removed', 'rationale'],
  properties: {
    drugs: { type: 'array', items: { type: 'string' } },
    embolics: { type: 'array', items: { type: 'string' } },
    removed: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'reason'],
        properties: { name: { type: 'string' }, reason: { type: 'string' } },
      },
    },
    rationale: { type: 'string' },
  },
} as const;

export interface RefinementInput {
  readonly caseId: string;
  readonly observation: TumourObservation;
  readonly goal: string;
  readonly drugs: readonly DrugId[];
  readonly embolics: readonly EmbolicId[];
}

export interface RefinementResult {
  readonly drugs: readonly DrugId[];
  readonly embolics: readonly EmbolicId[];
  readonly refinerRemovals: readonly RefinerRemoval[];
  readonly rationale: string;
  readonly model: string;
  readonly promptKey: string;
  readonly exchange: LlmExchangeRecord;
}

function validateRefinement(input: RefinementInput, value: unknown): Validation<Omit<RefinementResult, 'model' | 'promptKey' | 'exchange'>> {
  const parsed = refinementAnswer.safeParse(value);
  if (!parsed.success)
    return {
      ok: false,
      error: `the JSON does not match the format: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    };
  const drugs = mapAgentNames(parsed.data.drugs, 'drug');
  const embolics = mapAgentNames(parsed.data.embolics, 'embolic');
  const problems = [...drugs.problems, ...embolics.problems].map((p) => p.detail);
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  const added = [...drugs.drugs.filter((d) => !input.drugs.includes(d)), ...embolics.embolics.filter((e) => !input.embolics.includes(e))];
  if (added.length > 0) return { ok: false, error: `you may only remove candidates, but you added ${added.join(', ')}` };
  if (drugs.drugs.length === 0 || embolics.embolics.length === 0) return { ok: false, error: 'keep at least one drug and at least one embolic' };
  const keptDrugs = input.drugs.filter((d) => drugs.drugs.includes(d));
  const keptEmbolics = input.embolics.filter((e) => embolics.embolics.includes(e));
  const reasons = new Map<AgentId, string>();
  for (const r of parsed.data.removed) {
    const m = mapAgentNames([r.name]);
    const agent = m.drugs[0] ?? m.embolics[0];
    if (agent) reasons.set(agent, r.reason);
  }
  const removed: AgentId[] = [...input.drugs.filter((d) => !keptDrugs.includes(d)), ...input.embolics.filter((e) => !keptEmbolics.includes(e))];
  return {
    ok: true,
    value: {
      drugs: keptDrugs,
      embolics: keptEmbolics,
      refinerRemovals: removed.map((agent) => ({ agent, reason: reasons.get(agent) ?? '(no reason given)' })),
      rationale: parsed.data.rationale,
    },
  };
}

/** Asks the reasoning model to remove conflicting or inappropriate candidates (never to add). */
export async function refineWithReasoningModel(client: OpenAI, config: LlmEndpointConfig, input: RefinementInput): Promise<RefinementResult> {
  const model = config.refineModel;
  if (!model) throw new MewmError('InvalidConfig', 'refinement needs MEWM_REFINE_MODEL', { variable: 'MEWM_REFINE_MODEL' });
  const prompt = renderPrompt(loadPrompt('refine'), {
    rules: rulesForPrompt(),
    goal: input.goal,
    observation: input.observation.summary,
    drugs: input.drugs.map((d) => DRUG_INFO[d].displayName).join(', '),
    embolics: input.embolics.map((e) => EMBOLIC_INFO[e].displayName).join(', '),
  });
  const answer = await completeJson(client, {
    model,
    system: prompt.system,
    user: prompt.user,
    outputMode: config.refineOutputMode,
    schemaName: 'tace_refinement',
    jsonSchema: REFINEMENT_JSON_SCHEMA,
    validate: (value) => validateRefinement(input, value),
    repairAttempts: config.repairAttempts,
    ...(config.maxTokens !== undefined ? { maxTokens: config.maxTokens } : {}),
    caseId: input.caseId,
    purpose: 'candidate refinement',
  });
  return { ...answer.value, model: answer.model, promptKey: prompt.key, exchange: exchangeRecord('refine', prompt.key, answer) };
}
