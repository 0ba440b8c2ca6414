/**
 * The LLM-only planning baseline (the paper's Table 2 rows GPT-4o, Claude, Qwen-VL…): the model
 * is shown key slices of the pre-CT and the measurements and asked directly for the final TACE
 * protocol, in the style of the paper's Figures 11–12 (task, predefined action sets, JSON example).
 * The answer is validated and mapped like the policy's; because the result *is* one protocol,
 * the clinical rules are enforced on it (removals recorded) so it is never rule-violating.
 *
 * Without an endpoint, the guideline policy stands in (`guidelineProtocol`), so an evaluation
 * can still compare planners offline; the prediction says which baseline produced it.
 */
import type OpenAI from 'openai';
import { z } from 'zod';
import { MewmError } from '../core/errors';
import { canonicalProtocol, protocolKey, protocolLabel, type Protocol } from '../core/vocabulary';
import { mapAgentNames } from './agent-names';
import { baselineSchemas } from './answer-schemas';
import type { LlmEndpointConfig } from './config';
import { GuidelinePolicy } from './guideline';
import { completeJson, createLlmClient, exchangeRecord, type Validation } from './llm-json';
import { formatZodIssues, imageNote, multimodalUser, observationText } from './llm-policy';
import type { LlmExchangeRecord, PolicyIdentity, RuleRemoval, TumourObservation } from './policy';
import { loadPrompt, renderPrompt } from './prompts';
import { assertValidProtocol, drugListForPrompt, embolicListForPrompt, enforceClinicalRules } from './refine';

export const DEFAULT_GOAL =
  'What TACE treatment protocol is recommended for this patient diagnosed with hepatocellular carcinoma (HCC), given the pre-treatment CT?';

export interface BaselineRequest {
  readonly caseId: string;
  readonly observation: TumourObservation;
  readonly goal: string;
  readonly keySlicesPng?: readonly Uint8Array[];
}

export interface BaselinePrediction {
  readonly caseId: string;
  readonly protocol: Protocol;
  /** `protocolKey` form, e.g. "cisplatin+epirubicin|lipiodol". */
  readonly key: string;
  /** Display form, e.g. "Cisplatin; Epirubicin; Lipiodol". */
  readonly label: string;
  readonly rationale: string;
  readonly removals: readonly RuleRemoval[];
  readonly baseline: PolicyIdentity;
  /** Chat requests that returned an answer (1 + re-asks); 0 for the guideline baseline. */
  readonly attempts: number;
  /** The LLM exchange behind it, for the audit (LLM baseline only). */
  readonly exchange?: LlmExchangeRecord;
}

export interface ProtocolBaseline {
  readonly identity: PolicyIdentity;
  predict(request: BaselineRequest): Promise<BaselinePrediction>;
}

const baselineAnswer = z.object({
  chemotherapy_drugs: z.array(z.string()).min(1, 'choose at least one chemotherapy drug'),
  embolization_materials: z.array(z.string()).min(1, 'choose at least one embolization material'),
  rationale: z.string().optional(),
});

const BASELINE_SCHEMAS = baselineSchemas();

function validateBaselineAnswer(value: unknown): Validation<{ drugs: Protocol['drugs']; embolics: Protocol['embolics']; rationale: string }> {
  const parsed = baselineAnswer.safeParse(value);
  if (!parsed.success) return { ok: false, error: formatZodIssues(parsed.error) };
  const drugs = mapAgentNames(parsed.data.chemotherapy_drugs, 'drug');
  const embolics = mapAgentNames(parsed.data.embolization_materials, 'embolic');
  const problems = [...drugs.problems, ...embolics.problems];
  if (problems.length > 0)
    return {
      ok: false,
      error: `${problems.map((p) => p.detail).join('; ')}. Allowed drugs: ${drugListForPrompt()}. Allowed materials: ${embolicListForPrompt()}`,
    };
  return { ok: true, value: { drugs: drugs.drugs, embolics: embolics.embolics, rationale: parsed.data.rationale ?? '' } };
}

function prediction(
  caseId: string,
  drugs: Protocol['drugs'],
  embolics: Protocol['embolics'],
  rationale: string,
  baseline: PolicyIdentity,
  attempts: number,
): BaselinePrediction {
  const enforced = enforceClinicalRules(drugs, embolics);
  const protocol = canonicalProtocol({ drugs: enforced.drugs, embolics: enforced.embolics });
  assertValidProtocol(protocol, caseId);
  return { caseId, protocol, key: protocolKey(protocol), label: protocolLabel(protocol), rationale, removals: enforced.removals, baseline, attempts };
}

export class LlmProtocolBaseline implements ProtocolBaseline {
  readonly identity: PolicyIdentity;
  private readonly client: OpenAI;

  constructor(
    private readonly config: LlmEndpointConfig,
    client?: OpenAI,
  ) {
    this.client = client ?? createLlmClient(config);
    this.identity = { name: 'llm', version: 'llm-protocol-baseline-1', models: [config.model], promptVersions: { baseline: `protocol-baseline.v1` } };
  }

  async predict(request: BaselineRequest): Promise<BaselinePrediction> {
    const images = request.keySlicesPng ?? [];
    const prompt = renderPrompt(loadPrompt('protocol-baseline'), {
      drugList: drugListForPrompt(),
      embolicList: embolicListForPrompt(),
      imageNote: imageNote(images.length, this.config.sendImages),
      observation: observationText(request.observation),
      goal: request.goal,
    });
    const answer = await completeJson(this.client, {
      model: this.config.model,
      system: prompt.system,
      user: multimodalUser(prompt.user, images, this.config.sendImages),
      outputMode: this.config.outputMode,
      schemaName: 'tace_protocol',
      jsonSchema: BASELINE_SCHEMAS.strict,
      grammarSchema: BASELINE_SCHEMAS.grammar,
      validate: validateBaselineAnswer,
      repairAttempts: this.config.repairAttempts,
      ...(this.config.maxTokens !== undefined ? { maxTokens: this.config.maxTokens } : {}),
      caseId: request.caseId,
      purpose: 'LLM-only protocol baseline',
      temperature: 0,
    });
    const identity: PolicyIdentity = { ...this.identity, models: [answer.model], promptVersions: { baseline: prompt.key } };
    return {
      ...prediction(request.caseId, answer.value.drugs, answer.value.embolics, answer.value.rationale, identity, answer.attempts),
      exchange: exchangeRecord('baseline', prompt.key, answer),
    };
  }
}

/**
 * The offline stand-in: the guideline policy's top `drugs` drugs and top `embolics` embolics
 * taken as one protocol (its candidate sets are already conflict-free).
 */
export class GuidelineProtocolBaseline implements ProtocolBaseline {
  private readonly policy = new GuidelinePolicy();
  readonly identity: PolicyIdentity = this.policy.identity;

  constructor(private readonly size: { readonly drugs: number; readonly embolics: number } = { drugs: 2, embolics: 2 }) {
    if (!(size.drugs >= 1 && size.embolics >= 1)) throw new MewmError('InvalidInput', 'guideline baseline needs at least one drug and one embolic');
  }

  async predict(request: BaselineRequest): Promise<BaselinePrediction> {
    const proposal = this.policy.proposeSync({
      caseId: request.caseId,
      observation: request.observation,
      goal: request.goal,
      drugCount: this.size.drugs,
      embolicCount: this.size.embolics,
    });
    return prediction(request.caseId, proposal.drugs, proposal.embolics, proposal.rationale, this.identity, 0);
  }
}

export function createProtocolBaseline(llm: LlmEndpointConfig | undefined, client?: OpenAI): ProtocolBaseline {
  return llm ? new LlmProtocolBaseline(llm, client) : new GuidelineProtocolBaseline();
}
