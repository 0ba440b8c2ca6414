/**
 * Structured output: asking the endpoint for JSON that matches the answer's schema, in the dialect
 * the endpoint speaks, and finding that dialect when told `auto`.
 *
 * | mode                 | `response_format` sent                                | spoken by |
 * |----------------------|-------------------------------------------------------|-----------|
 * | `json_schema`        | `{type: 'json_schema', json_schema: {name, schema, strict: true}}` | OpenAI, vLLM, llama.cpp's llama-server |
 * | `json_object_schema` | `{type: 'json_object', schema}`                        | llama-cpp-python's server (grammar-constrained) |
 * | `json_object`        | `{type: 'json_object'}` (any JSON object)             | most endpoints |
 * | `none`               | nothing                                               | all |
 *
 * `auto` (the default) starts with `json_schema` and steps down the table each time the endpoint
 * *rejects the option itself* (HTTP 400, 422 or 500 whose message names the response format, as
 * llama-cpp-python answers `json_schema` with a 500); any other failure is a failure. The mode that worked is
 * remembered per endpoint and model for the life of the process, so the probing costs at most
 * three rejected requests once. The answer is validated and repaired whatever the mode: endpoints
 * may accept an option and ignore it. The mode used is recorded with every exchange.
 */
import OpenAI from 'openai';

import type { OutputMode } from './config';

export { OUTPUT_MODES, type OutputMode } from './config';
export type ConcreteOutputMode = Exclude<OutputMode, 'auto'>;

/** The order `auto` tries, strongest constraint first. */
const AUTO_ORDER: readonly ConcreteOutputMode[] = ['json_schema', 'json_object_schema', 'json_object', 'none'];

type ResponseFormat = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming['response_format'];

/**
 * The `response_format` of a mode. `schema` is the strict (OpenAI subset) schema; `grammarSchema`
 * may add keywords that grammar-constrained servers enforce (minItems, maxLength).
 */
export function responseFormatFor(
  mode: ConcreteOutputMode,
  name: string,
  schema: Record<string, unknown>,
  grammarSchema: Record<string, unknown> = schema,
): ResponseFormat {
  switch (mode) {
    case 'json_schema':
      return { type: 'json_schema', json_schema: { name, schema, strict: true } };
    case 'json_object_schema':
      // llama-cpp-python's extension of json_object; the OpenAI type has no `schema` field.
      return { type: 'json_object', schema: grammarSchema } as unknown as ResponseFormat;
    case 'json_object':
      return { type: 'json_object' };
    case 'none':
      return undefined;
  }
}

/** True when the endpoint refused the response-format option itself (so a weaker mode may work). */
export function isResponseFormatRejection(error: unknown): boolean {
  if (!(error instanceof OpenAI.APIError) || error.status === undefined) return false;
  const text = `${error.message} ${safeJson(error.error)}`;
  const namesFormat = /response_format|json_schema|json_object|structured output/i.test(text);
  return namesFormat && (error.status === 400 || error.status === 422 || error.status === 500);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}

const negotiated = new Map<string, ConcreteOutputMode>();

/** What `auto` settled on for an endpoint and model in this process (tests, measurements). */
export function negotiatedOutputMode(baseURL: string, model: string): ConcreteOutputMode | undefined {
  return negotiated.get(`${baseURL} ${model}`);
}

/** Forgets what `auto` learned (tests that restart an endpoint on the same address). */
export function resetOutputNegotiation(): void {
  negotiated.clear();
}

/**
 * The modes to try for one request, in order: the configured one alone, or for `auto` the
 * remembered mode alone, else the whole table.
 */
export function modesToTry(mode: OutputMode, baseURL: string, model: string): readonly ConcreteOutputMode[] {
  if (mode !== 'auto') return [mode];
  const known = negotiated.get(`${baseURL} ${model}`);
  return known ? [known] : AUTO_ORDER;
}

export function rememberOutputMode(mode: OutputMode, baseURL: string, model: string, worked: ConcreteOutputMode): void {
  if (mode === 'auto') negotiated.set(`${baseURL} ${model}`, worked);
}
