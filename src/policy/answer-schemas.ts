/**
 * JSON Schemas of the LLM answers, for structured output (`structured-output.ts`). Each answer
 * has two forms:
 * - `strict`: OpenAI's strict subset (every property required, no extra properties); agent
 *   names are an `enum` of the vocabulary's display names, so a schema-following endpoint
 *   cannot answer outside the vocabulary;
 * - `grammar`: the same plus keywords that grammar-constrained servers (llama.cpp) enforce while
 *   sampling: at least one agent per list, at most the vocabulary's size, bounded free text (a
 *   small model otherwise fills the context with one string).
 * The zod validators stay the judge: a schema only makes valid answers likelier.
 */
import { DRUG_INFO, EMBOLIC_INFO } from '../core/vocabulary';

export interface AnswerSchemas {
  readonly strict: Record<string, unknown>;
  readonly grammar: Record<string, unknown>;
}

const FREE_TEXT_MAX = 400;

const drugNames = (): string[] => Object.values(DRUG_INFO).map((d) => d.displayName);
const embolicNames = (): string[] => Object.values(EMBOLIC_INFO).map((e) => e.displayName);

type Field = { readonly strict: Record<string, unknown>; readonly grammar: Record<string, unknown> };

function nameList(names: readonly string[], minItems: number): Field {
  const strict = { type: 'array', items: { type: 'string', enum: [...names] } };
  return { strict, grammar: { ...strict, minItems, maxItems: names.length } };
}

function text(): Field {
  return { strict: { type: 'string' }, grammar: { type: 'string', maxLength: FREE_TEXT_MAX } };
}

function objectSchemas(fields: Readonly<Record<string, Field>>): AnswerSchemas {
  const build = (form: 'strict' | 'grammar') => ({
    type: 'object',
    additionalProperties: false,
    required: Object.keys(fields),
    properties: Object.fromEntries(Object.entries(fields).map(([name, field]) => [name, field[form]])),
  });
  return { strict: build('strict'), grammar: build('grammar') };
}

/** The policy's answer: ranked candidate drugs and embolics (propose.vN). */
export function proposalSchemas(): AnswerSchemas {
  return objectSchemas({ observation: text(), drugs: nameList(drugNames(), 1), embolics: nameList(embolicNames(), 1), rationale: text() });
}

/** The LLM-only baseline's answer: one protocol (protocol-baseline.vN). */
export function baselineSchemas(): AnswerSchemas {
  return objectSchemas({ chemotherapy_drugs: nameList(drugNames(), 1), embolization_materials: nameList(embolicNames(), 1), rationale: text() });
}

/** Report extraction: agents actually given with amounts, and the outcome level (extract-report.vN). */
export function extractionSchemas(): AnswerSchemas {
  const item = (names: readonly string[], amountKey: 'dose' | 'amount') => {
    const strict = {
      type: 'object',
      additionalProperties: false,
      required: ['name', amountKey, 'unit'],
      properties: {
        name: { type: 'string', enum: [...names] },
        [amountKey]: { type: ['number', 'null'] },
        unit: { type: ['string', 'null'], enum: ['mg', 'ml', 'vial', null] },
      },
    };
    // A report names a few agents; the cap keeps a grammar-driven small model from listing all.
    return { strict: { type: 'array', items: strict }, grammar: { type: 'array', items: strict, maxItems: Math.min(names.length, 5) } };
  };
  return objectSchemas({
    drugs: item(drugNames(), 'dose'),
    embolics: item(embolicNames(), 'amount'),
    attenuationLevel: { strict: { type: ['integer', 'null'], enum: [1, 2, 3, 4, null] }, grammar: { type: ['integer', 'null'], enum: [1, 2, 3, 4, null] } },
    outcomeText: { strict: { type: ['string', 'null'] }, grammar: { type: ['string', 'null'], maxLength: FREE_TEXT_MAX } },
  });
}
