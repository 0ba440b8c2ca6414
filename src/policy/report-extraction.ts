/**
 * Structured data from TACE procedure reports (the paper's Table 5 style): drugs with doses,
 * embolics with amounts, and the final-angiography outcome as an attenuation level 1–4
 * (higher = better effect; the paper's Text-driven Morpho-Gaussian Attenuation input):
 *   4 staining disappeared · 3 mostly disappeared / feeders occluded ·
 *   2 feeders mostly occluded / markedly reduced · 1 reduced, partial, residual or unchanged.
 *
 * Two extractors: a deterministic rule-based one (offline, and the cross-check) and an LLM one
 * (any OpenAI-compatible endpoint, validated like the policy). `extractReport` runs both when an
 * endpoint is given and flags every disagreement.
 */
import type OpenAI from 'openai';
import { z } from 'zod';
import { isDrug, type AgentId, type DrugId, type EmbolicId } from '../core/vocabulary';
import { mapAgentNames, matchAgentName } from './agent-names';
import { extractionSchemas } from './answer-schemas';
import type { LlmEndpointConfig } from './config';
import { completeJson, exchangeRecord, type Validation } from './llm-json';
import { formatZodIssues } from './llm-policy';
import { loadPrompt, renderPrompt } from './prompts';
import { drugListForPrompt, embolicListForPrompt } from './refine';
import { mentionContexts, negatedAt, type MentionStatus } from './mention-context';
import type { LlmExchangeRecord } from './policy';

export type AttenuationLevel = 1 | 2 | 3 | 4;
export type DoseUnit = 'mg' | 'ml' | 'vial';

export interface ExtractedAgent<Id extends AgentId = AgentId> {
  readonly agent: Id;
  /** Total over all mentions with a stated amount; undefined when no amount is stated. */
  readonly dose?: number;
  readonly unit?: DoseUnit;
  /** The words used for the agent, as written. */
  readonly surfaces: readonly string[];
}

export interface ReportExtraction {
  readonly source: 'rules' | 'llm';
  readonly drugs: readonly ExtractedAgent<DrugId>[];
  readonly embolics: readonly ExtractedAgent<EmbolicId>[];
  /** Undefined when the report states no outcome. */
  readonly attenuationLevel?: AttenuationLevel;
  readonly outcomeText?: string;
  /**
   * Mentions that do not say the agent was given in this procedure (negated, uncertain or
   * historical), with the cue that decided; they are not in `drugs` / `embolics`. Rules only.
   */
  readonly notGiven?: readonly NotGivenMention[];
  /** Prompt template key, for the LLM extractor. */
  readonly promptKey?: string;
  readonly model?: string;
  /** The LLM exchange behind it, for the audit (LLM extractor only). */
  readonly exchange?: LlmExchangeRecord;
}

export interface NotGivenMention {
  readonly agent: AgentId;
  readonly surface: string;
  readonly status: Exclude<MentionStatus, 'given'>;
  readonly cue: string;
}

// ---------------------------------------------------------------------------------------------
// Rule-based extractor

interface Token {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

const TOKEN = /[A-Za-z0-9\u00b5\u03bc][A-Za-z0-9\u00b5\u03bc-]*/g;
/** Words of ordinary report prose that must never be read as a misspelt agent. */
const PROSE_WORDS = new Set(
  'infused through catheter cathether mixed create emulsion emulsoin embolization embolisation embolize embolise injected under fluoroscopic fluroscopic guidance deposition satisfactory satisfactorey acceptable tumor tumour feeding branches segment hepatic artery arteries right left staining disappeared occluded reduced markedly partially residual observed angiography appropriate amount slowly delivered loaded protective contrast lesions satellite completely largely mostly final particles'.split(
    ' ',
  ),
);
const WINDOW = 4;

function tokens(text: string): Token[] {
  return [...text.matchAll(TOKEN)].map((m) => ({ text: m[0], start: m.index, end: m.index + m[0].length }));
}

interface Mention {
  readonly agent: AgentId;
  readonly surface: string;
  readonly start: number;
  readonly end: number;
}

/** Agent mentions, longest match first; typo correction only for single words of 7+ letters. */
export function findAgentMentions(text: string): Mention[] {
  const toks = tokens(text);
  const mentions: Mention[] = [];
  for (let i = 0; i < toks.length;) {
    let found: Mention | undefined;
    for (let n = Math.min(WINDOW, toks.length - i); n >= 1 && !found; n--) {
      const first = toks[i]!;
      const last = toks[i + n - 1]!;
      const surface = text.slice(first.start, last.end);
      // A window must not span a clause boundary.
      if (/[;.,()]/.test(surface)) continue;
      const match = matchAgentName(surface);
      if (match.kind !== 'matched') continue;
      // The window must be tight: no amounts inside, and its edges belong to the name itself.
      if (n > 1 && toks.slice(i, i + n).some((t) => /^\d+(?:\.\d+)?$/.test(t.text) || /^(mg|ml|vials?|g|cc)$/i.test(t.text))) continue;
      if (match.via === 'fuzzy' && (n > 1 || surface.length < 7 || PROSE_WORDS.has(surface.toLowerCase()))) continue;
      if (n > 1 && (!edgeBelongs(toks[i]!.text) || !edgeBelongs(last.text))) continue;
      found = { agent: match.agent, surface, start: first.start, end: last.end };
      i += n;
    }
    if (found) mentions.push(found);
    else i += 1;
  }
  return mentions;
}

/** A multi-word window whose edge is a connective ("with epirubicin") is not a tight name. */
function edgeBelongs(word: string): boolean {
  return !['with', 'and', 'of', 'for', 'the', 'mixed', 'a', 'an', 'loaded', 'to', 'injection', 'emulsion', 'particles', 'particle'].includes(
    word.toLowerCase(),
  );
}

const AMOUNT = String.raw`(\d+(?:\.\d+)?)\s*(mg|ml|vials?)\b`;
const AMOUNT_BEFORE = new RegExp(`${AMOUNT}\\s*(?:of\\s+)?(?:ultra-liquid\\s+|ultra liquid\\s+)?$`, 'i');
const AMOUNT_AFTER = new RegExp(`^\\s*\\(?\\s*${AMOUNT}`, 'i');

function amountNear(text: string, mention: Mention, previousEnd: number): { dose: number; unit: DoseUnit } | undefined {
  const after = AMOUNT_AFTER.exec(text.slice(mention.end, mention.end + 24));
  const before = AMOUNT_BEFORE.exec(text.slice(Math.max(previousEnd, mention.start - 32), mention.start));
  const hit = after ?? before;
  if (!hit) return undefined;
  const unit = hit[2]!.toLowerCase();
  return { dose: Number(hit[1]), unit: unit.startsWith('vial') ? 'vial' : (unit as DoseUnit) };
}

/** Outcome rules: qualifiers decide before head words (see the module doc for the levels). */
const OUTCOME_RULES: ReadonlyArray<readonly [RegExp, AttenuationLevel]> = [
  [
    /partial(ly)?\s+(reduced|occluded|disappeared)|residual\s+(tumor\s+)?staining|no (significant|obvious) change|unchanged|persistent\s+(tumor\s+)?staining/,
    1,
  ],
  [/(markedly|significantly|substantially)\s+(reduced|decreased)|(mostly|largely|nearly|almost)\s+occluded/, 2],
  [/staining\s+(was\s+)?(slightly\s+)?(reduced|decreased)/, 1],
  [/(mostly|largely|nearly|almost)\s+disappeared|arteries\s+were\s+(completely\s+)?occluded/, 3],
  [/no\s+(residual\s+)?tumor\s+staining|staining\s+(was\s+)?(completely\s+)?disappeared|complete(ly)?\s+devasculari[sz]ed/, 4],
];

export function attenuationFromOutcome(text: string): { level: AttenuationLevel; sentence: string } | undefined {
  const clauses = text
    .split(/[;.](?:\s|$)/)
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  // The last clause that states an outcome wins: the final angiography is reported last.
  for (let i = clauses.length - 1; i >= 0; i--) {
    const clause = clauses[i]!;
    const t = clause.toLowerCase().replace(/tumour/g, 'tumor');
    for (const [pattern, level] of OUTCOME_RULES) {
      const m = pattern.exec(t);
      // "staining was not markedly reduced" states no level 2: a negated phrase is skipped.
      if (m && !negatedAt(t, m.index)) return { level, sentence: clause };
    }
  }
  return undefined;
}

function collect(mentions: readonly (Mention & { amount?: { dose: number; unit: DoseUnit } })[]): ExtractedAgent[] {
  const byAgent = new Map<AgentId, { dose?: number; unit?: DoseUnit; surfaces: string[] }>();
  for (const m of mentions) {
    const entry = byAgent.get(m.agent) ?? { surfaces: [] };
    if (!entry.surfaces.includes(m.surface)) entry.surfaces.push(m.surface);
    if (m.amount && (entry.unit === undefined || entry.unit === m.amount.unit)) {
      entry.dose = (entry.dose ?? 0) + m.amount.dose;
      entry.unit = m.amount.unit;
    }
    byAgent.set(m.agent, entry);
  }
  return [...byAgent.entries()].map(([agent, e]) => ({ agent, surfaces: e.surfaces, ...(e.dose !== undefined ? { dose: e.dose, unit: e.unit! } : {}) }));
}

/**
 * Agents given (with summed doses) and the outcome level. Mentions that are negated, uncertain or
 * historical (`mention-context.ts`) do not count as given; they are listed in `notGiven`.
 */
export function extractReportByRules(text: string): ReportExtraction {
  const mentions = findAgentMentions(text);
  const contexts = mentionContexts(text, mentions);
  const given = mentions.flatMap((m, i) => {
    if (contexts[i]!.status !== 'given') return [];
    const amount = amountNear(text, m, i > 0 ? mentions[i - 1]!.end : 0);
    return [amount ? { ...m, amount } : m];
  });
  const notGiven = mentions.flatMap((m, i): NotGivenMention[] => {
    const c = contexts[i]!;
    return c.status === 'given' ? [] : [{ agent: m.agent, surface: m.surface, status: c.status, cue: c.cue ?? '' }];
  });
  const agents = collect(given);
  const outcome = attenuationFromOutcome(text);
  return {
    source: 'rules',
    drugs: agents.filter((a): a is ExtractedAgent<DrugId> => isDrug(a.agent)),
    embolics: agents.filter((a): a is ExtractedAgent<EmbolicId> => !isDrug(a.agent)),
    ...(outcome ? { attenuationLevel: outcome.level, outcomeText: outcome.sentence } : {}),
    ...(notGiven.length > 0 ? { notGiven } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// LLM extractor

const amountItem = z.object({
  name: z.string(),
  dose: z.number().nullable().optional(),
  amount: z.number().nullable().optional(),
  unit: z.string().nullable().optional(),
});
const extractionAnswer = z.object({
  drugs: z.array(amountItem),
  embolics: z.array(amountItem),
  attenuationLevel: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.null()]),
  outcomeText: z.string().nullable().optional(),
});

const EXTRACTION_SCHEMAS = extractionSchemas();

function unitOf(raw: string | null | undefined): DoseUnit | undefined {
  const u = raw?.trim().toLowerCase();
  if (u === 'mg' || u === 'ml') return u;
  if (u === 'vial' || u === 'vials') return 'vial';
  return undefined;
}

function validateExtraction(value: unknown): Validation<Omit<ReportExtraction, 'source' | 'promptKey' | 'model' | 'exchange'>> {
  const parsed = extractionAnswer.safeParse(value);
  if (!parsed.success) return { ok: false, error: formatZodIssues(parsed.error) };
  const drugs = mapAgentNames(
    parsed.data.drugs.map((d) => d.name),
    'drug',
  );
  const embolics = mapAgentNames(
    parsed.data.embolics.map((e) => e.name),
    'embolic',
  );
  const problems = [...drugs.problems, ...embolics.problems];
  if (problems.length > 0)
    return { ok: false, error: `${problems.map((p) => p.detail).join('; ')}. Known drugs: ${drugListForPrompt()}. Known embolics: ${embolicListForPrompt()}` };
  const items = (list: readonly z.infer<typeof amountItem>[], phase: 'drug' | 'embolic') =>
    collect(
      list.map((item) => {
        const agent = mapAgentNames([item.name], phase);
        const dose = item.dose ?? item.amount ?? undefined;
        const unit = unitOf(item.unit);
        const mention: Mention = { agent: (agent.drugs[0] ?? agent.embolics[0])!, surface: item.name, start: 0, end: 0 };
        return dose !== undefined && dose !== null && unit ? { ...mention, amount: { dose, unit } } : mention;
      }),
    );
  const level = parsed.data.attenuationLevel;
  return {
    ok: true,
    value: {
      drugs: items(parsed.data.drugs, 'drug') as ExtractedAgent<DrugId>[],
      embolics: items(parsed.data.embolics, 'embolic') as ExtractedAgent<EmbolicId>[],
      ...(level !== null ? { attenuationLevel: level } : {}),
      ...(parsed.data.outcomeText ? { outcomeText: parsed.data.outcomeText } : {}),
    },
  };
}

export async function extractReportWithLlm(client: OpenAI, config: LlmEndpointConfig, text: string, caseId: string): Promise<ReportExtraction> {
  const prompt = renderPrompt(loadPrompt('extract-report'), { drugList: drugListForPrompt(), embolicList: embolicListForPrompt(), report: text });
  const answer = await completeJson(client, {
    model: config.extractModel,
    system: prompt.system,
    user: prompt.user,
    outputMode: config.outputMode,
    schemaName: 'tace_report_extraction',
    jsonSchema: EXTRACTION_SCHEMAS.strict,
    grammarSchema: EXTRACTION_SCHEMAS.grammar,
    validate: validateExtraction,
    repairAttempts: config.repairAttempts,
    ...(config.maxTokens !== undefined ? { maxTokens: config.maxTokens } : {}),
    caseId,
    purpose: 'report extraction',
    temperature: 0,
  });
  return { source: 'llm', ...answer.value, promptKey: prompt.key, model: answer.model, exchange: exchangeRecord('extract', prompt.key, answer) };
}

// ---------------------------------------------------------------------------------------------
// Cross-check

export interface ReportExtractionResult {
  readonly rules: ReportExtraction;
  readonly llm?: ReportExtraction;
  /** True when both extractors ran and disagree on any agent or on the attenuation level. */
  readonly flagged: boolean;
  /** Human-readable differences; empty when they agree or only the rules ran. */
  readonly disagreements: readonly string[];
}

export function compareExtractions(a: ReportExtraction, b: ReportExtraction): string[] {
  const out: string[] = [];
  const agents = (e: ReportExtraction) => new Set<AgentId>([...e.drugs.map((d) => d.agent), ...e.embolics.map((x) => x.agent)]);
  const sa = agents(a);
  const sb = agents(b);
  for (const x of sa) if (!sb.has(x)) out.push(`${x}: found by ${a.source} only`);
  for (const x of sb) if (!sa.has(x)) out.push(`${x}: found by ${b.source} only`);
  for (const d of [...a.drugs, ...a.embolics]) {
    const other = [...b.drugs, ...b.embolics].find((o) => o.agent === d.agent);
    if (other && d.dose !== undefined && other.dose !== undefined && (d.unit !== other.unit || Math.abs(d.dose - other.dose) > 1e-6)) {
      out.push(`${d.agent}: dose ${d.dose} ${d.unit} (${a.source}) vs ${other.dose} ${other.unit} (${b.source})`);
    }
  }
  if (a.attenuationLevel !== b.attenuationLevel)
    out.push(`attenuation level ${a.attenuationLevel ?? 'none'} (${a.source}) vs ${b.attenuationLevel ?? 'none'} (${b.source})`);
  return out;
}

export interface ExtractOptions {
  readonly caseId: string;
  /** Endpoint for the LLM extractor; without it only the rules run (offline). */
  readonly llm?: { readonly client: OpenAI; readonly config: LlmEndpointConfig };
}

export async function extractReport(text: string, options: ExtractOptions): Promise<ReportExtractionResult> {
  const rules = extractReportByRules(text);
  if (!options.llm) return { rules, flagged: false, disagreements: [] };
  const llm = await extractReportWithLlm(options.llm.client, options.llm.config, text, options.caseId);
  const disagreements = compareExtractions(rules, llm);
  return { rules, llm, flagged: disagreements.length > 0, disagreements };
}
