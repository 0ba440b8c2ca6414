/**
 * The LLM policy π_VLM: asks a (multimodal) model behind any OpenAI-compatible endpoint for
 * ranked candidate drugs and embolics, given key slices of the pre-CT, the tumour observation
 * and the goal. The answer is validated (zod) and mapped onto the vocabulary; invalid answers
 * are re-asked with the problem fed back, then fail as `PolicyOutputInvalid`. An optional
 * reasoning-model refinement follows; the clinical rules are applied last in every case.
 */
import type OpenAI from 'openai';
import type { ChatCompletionContentPart } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { MewmError } from '../core/errors';
import type { DrugId, EmbolicId } from '../core/vocabulary';
import { mapAgentNames } from './agent-names';
import { proposalSchemas } from './answer-schemas';
import type { LlmEndpointConfig } from './config';
import { completeJson, createLlmClient, exchangeRecord, type Validation } from './llm-json';
import type { ActionPolicy, ActionProposal, LlmExchangeRecord, PolicyIdentity, ProposalRequest, TumourObservation } from './policy';
import { CURRENT_PROMPT_VERSIONS, loadPrompt, renderPrompt } from './prompts';
import { drugListForPrompt, embolicListForPrompt, enforceClinicalRules, refineWithReasoningModel, rulesForPrompt } from './refine';

export const LLM_POLICY_VERSION = 'llm-policy-1';

/** A listed agent: a name, or an object with a name (models in plain JSON mode often add reasons). */
export const agentEntry = z.union([z.string(), z.looseObject({ name: z.string() }).transform((o) => o.name)]);

const proposalAnswer = z.object({
  observation: z.string().optional(),
  drugs: z.array(agentEntry).min(1, 'list at least one drug'),
  embolics: z.array(agentEntry).min(1, 'list at least one embolic'),
  rationale: z.string().min(1, 'give a rationale'),
});

/** The answer's schemas for structured output (strict and grammar forms). */
export const PROPOSAL_SCHEMAS = proposalSchemas();

export interface MappedProposal {
  readonly drugs: readonly DrugId[];
  readonly embolics: readonly EmbolicId[];
  readonly rationale: string;
}

export function formatZodIssues(error: z.ZodError): string {
  return `the JSON does not match the format: ${error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
}

/** Validates a parsed proposal answer and maps its names; every unmapped name is an error. */
export function validateProposalAnswer(value: unknown): Validation<MappedProposal> {
  const parsed = proposalAnswer.safeParse(value);
  if (!parsed.success) return { ok: false, error: formatZodIssues(parsed.error) };
  const drugs = mapAgentNames(parsed.data.drugs, 'drug');
  const embolics = mapAgentNames(parsed.data.embolics, 'embolic');
  const problems = [...drugs.problems, ...embolics.problems];
  if (problems.length > 0) {
    return {
      ok: false,
      error: `${problems.map((p) => p.detail).join('; ')}. Allowed drugs: ${drugListForPrompt()}. Allowed embolics: ${embolicListForPrompt()}`,
    };
  }
  return { ok: true, value: { drugs: drugs.drugs, embolics: embolics.embolics, rationale: parsed.data.rationale } };
}

/** The observation as prompt text: the summary plus the numbers it came from. */
export function observationText(o: TumourObservation): string {
  return [
    o.summary,
    `- lesions: ${o.tumourCount}`,
    `- largest diameter: ${o.largestDiameterMm.toFixed(0)} mm`,
    `- total tumour volume: ${o.totalTumourMl.toFixed(1)} ml; liver volume: ${o.liverMl.toFixed(0)} ml; burden ${(o.tumourBurden * 100).toFixed(1)} %`,
    `- enhancement (tumour − liver): ${o.enhancementHu.toFixed(0)} HU; heterogeneity (CV of HU): ${o.heterogeneity.toFixed(2)}`,
    `- location of the largest lesion: ${o.location}`,
  ].join('\n');
}

export function pngDataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}

/** The user turn: text plus key-slice images when there are any and the endpoint takes them. */
export function multimodalUser(text: string, images: readonly Uint8Array[] | undefined, sendImages: boolean): string | ChatCompletionContentPart[] {
  if (!sendImages || !images || images.length === 0) return text;
  return [
    { type: 'text', text },
    ...images.map((png): ChatCompletionContentPart => ({ type: 'image_url', image_url: { url: pngDataUrl(png), detail: 'low' } })),
  ];
}

export function imageNote(count: number, sendImages: boolean): string {
  return sendImages && count > 0
    ? `${count} key axial slice(s) of the pre-treatment CT through the tumour are attached (liver window, tumour outlined).`
    : 'No images are attached; rely on the measurements.';
}

export class LlmPolicy implements ActionPolicy {
  readonly identity: PolicyIdentity;
  private readonly client: OpenAI;

  constructor(
    private readonly config: LlmEndpointConfig,
    client?: OpenAI,
  ) {
    this.client = client ?? createLlmClient(config);
    const refine = config.refineModel !== undefined;
    this.identity = {
      name: refine ? 'llm+refine' : 'llm',
      version: LLM_POLICY_VERSION,
      models: refine ? [config.model, config.refineModel!] : [config.model],
      promptVersions: refine
        ? { propose: `propose.${CURRENT_PROMPT_VERSIONS.propose}`, refine: `refine.${CURRENT_PROMPT_VERSIONS.refine}` }
        : { propose: `propose.${CURRENT_PROMPT_VERSIONS.propose}` },
    };
  }

  async propose(request: ProposalRequest): Promise<ActionProposal> {
    if (!Number.isInteger(request.drugCount) || request.drugCount < 1 || !Number.isInteger(request.embolicCount) || request.embolicCount < 1) {
      throw new MewmError('InvalidInput', `case ${request.caseId}: drugCount and embolicCount must be positive integers`, { caseId: request.caseId });
    }
    const images = request.keySlicesPng ?? [];
    const prompt = renderPrompt(loadPrompt('propose'), {
      drugList: drugListForPrompt(),
      embolicList: embolicListForPrompt(),
      rules: rulesForPrompt(),
      drugCount: request.drugCount,
      embolicCount: request.embolicCount,
      goal: request.goal,
      observation: observationText(request.observation),
      imageNote: imageNote(images.length, this.config.sendImages),
    });
    const answer = await completeJson(this.client, {
      model: this.config.model,
      system: prompt.system,
      user: multimodalUser(prompt.user, images, this.config.sendImages),
      outputMode: this.config.outputMode,
      schemaName: 'tace_candidates',
      jsonSchema: PROPOSAL_SCHEMAS.strict,
      grammarSchema: PROPOSAL_SCHEMAS.grammar,
      validate: validateProposalAnswer,
      repairAttempts: this.config.repairAttempts,
      ...(this.config.maxTokens !== undefined ? { maxTokens: this.config.maxTokens } : {}),
      caseId: request.caseId,
      purpose: 'action proposal',
      temperature: 0,
    });
    let drugs = answer.value.drugs;
    let embolics = answer.value.embolics;
    let rationale = answer.value.rationale;
    const models = [answer.model];
    const promptVersions: Record<string, string> = { propose: prompt.key };
    const exchanges: LlmExchangeRecord[] = [exchangeRecord('propose', prompt.key, answer)];
    let refinerRemovals: ActionProposal['refinerRemovals'];
    if (this.config.refineModel) {
      const refined = await refineWithReasoningModel(this.client, this.config, {
        caseId: request.caseId,
        observation: request.observation,
        goal: request.goal,
        drugs,
        embolics,
      });
      drugs = refined.drugs;
      embolics = refined.embolics;
      refinerRemovals = refined.refinerRemovals;
      if (refined.rationale) rationale = `${rationale} Refinement: ${refined.rationale}`;
      models.push(refined.model);
      promptVersions.refine = refined.promptKey;
      exchanges.push(refined.exchange);
    }
    const enforced = enforceClinicalRules(drugs, embolics);
    return {
      drugs: enforced.drugs.slice(0, request.drugCount),
      embolics: enforced.embolics.slice(0, request.embolicCount),
      rationale,
      removals: enforced.removals,
      ...(refinerRemovals ? { refinerRemovals } : {}),
      policy: { ...this.identity, models, promptVersions },
      exchanges,
    };
  }
}
