/**
 * One JSON-answer exchange with an OpenAI-compatible chat endpoint, shared by the proposal,
 * refinement, baseline and extraction calls: structured output where enabled, validation
 * always, bounded re-asks that feed the validation error back, and typed failures:
 * - transport trouble (429, 5xx, timeouts, refused connections) after the client's own bounded
 *   retries → `LlmUnavailable` (retryable, e.g. by the Temporal activity);
 * - answers that stay invalid after the re-asks → `PolicyOutputInvalid` (not retryable);
 * - 400/401/403/404 → `InvalidConfig` (wrong key, model or unsupported option).
 * Upstream error bodies never travel on: `llm-errors.ts` keeps the status and a redacted message.
 * The response-format dialect (`structured-output.ts`) is found per endpoint when `auto`.
 */
import OpenAI from 'openai';
import type { ChatCompletionContentPart, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { MewmError } from '../core/errors';
import type { LlmEndpointConfig } from './config';
import type { LlmExchangeRecord } from './policy';
import { toLlmError } from './llm-errors';
import { isResponseFormatRejection, modesToTry, rememberOutputMode, responseFormatFor, type ConcreteOutputMode, type OutputMode } from './structured-output';

export { toLlmError } from './llm-errors';

export type Validation<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export interface JsonExchange<T> {
  readonly model: string;
  readonly system: string;
  readonly user: string | readonly ChatCompletionContentPart[];
  readonly outputMode: OutputMode;
  readonly schemaName: string;
  /** JSON Schema of the answer, for `json_schema` structured output (strict subset). */
  readonly jsonSchema: Record<string, unknown>;
  /** The same schema with keywords grammar-constrained servers enforce (minItems, maxLength); default `jsonSchema`. */
  readonly grammarSchema?: Record<string, unknown>;
  /** Validates the parsed JSON and maps it onto the domain; the error text is fed back to the model. */
  readonly validate: (value: unknown) => Validation<T>;
  readonly repairAttempts: number;
  /** Sampling temperature; omitted for reasoning models, several of which reject it. */
  readonly temperature?: number;
  /** `max_tokens` of each request; omitted when undefined. */
  readonly maxTokens?: number;
  /** Pseudonymous case id and the purpose, for error messages only (never sent to the model). */
  readonly caseId: string;
  readonly purpose: string;
}

export interface JsonAnswer<T> {
  readonly value: T;
  /** Number of chat requests that returned an answer (1 + re-asks). */
  readonly attempts: number;
  /** The final raw answer text, reasoning blocks removed. */
  readonly raw: string;
  /** The model name the endpoint reported. */
  readonly model: string;
  /** The response format the answer was asked with (what `auto` settled on). */
  readonly outputMode: ConcreteOutputMode;
  /** The validation problems of the answers that were re-asked, in order. */
  readonly problems: readonly string[];
}

/** The longest raw answer kept for the audit (characters). */
export const MAX_RAW_ANSWER = 4_000;

/** The audit record of an answered exchange (`LlmExchangeRecord`). */
export function exchangeRecord(purpose: string, promptVersion: string, answer: JsonAnswer<unknown>): LlmExchangeRecord {
  return {
    purpose,
    model: answer.model,
    promptVersion,
    outputMode: answer.outputMode,
    attempts: answer.attempts,
    problems: answer.problems.map((p) => (p.length > 300 ? `${p.slice(0, 300)}…` : p)),
    rawAnswer: answer.raw,
  };
}

export function createLlmClient(config: LlmEndpointConfig): OpenAI {
  return new OpenAI({ baseURL: config.baseURL, apiKey: config.apiKey, timeout: config.timeoutMs, maxRetries: config.maxRetries });
}

/** Removes `<think>…</think>` reasoning blocks (DeepSeek-R1 style), including an unterminated one. */
export function stripThinking(text: string): string {
  return text
    .replace(/<think>[\s\S]*?<\/think>/gi, '')
    .replace(/<think>[\s\S]*$/i, '')
    .trim();
}

/** Parses the JSON object in an answer: bare, fenced in ```json, or surrounded by prose. */
export function parseJsonAnswer(text: string): Validation<unknown> {
  const cleaned = stripThinking(text);
  if (cleaned.length === 0) return { ok: false, error: 'the answer was empty' };
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(cleaned);
  const candidates = [cleaned, fenced?.[1]?.trim()];
  const first = cleaned.indexOf('{');
  const last = cleaned.lastIndexOf('}');
  if (first >= 0 && last > first) candidates.push(cleaned.slice(first, last + 1));
  let lastError = '';
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      return { ok: true, value: JSON.parse(candidate) as unknown };
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
  }
  return { ok: false, error: `the answer is not valid JSON (${lastError})` };
}

function clientWouldRetry(error: unknown): boolean {
  if (error instanceof OpenAI.APIConnectionError) return true;
  const status = error instanceof OpenAI.APIError ? error.status : undefined;
  return status === 408 || status === 409 || status === 429 || (status !== undefined && status >= 500);
}

/**
 * One chat request in the first output mode the endpoint accepts (see `structured-output.ts`).
 * Under `auto`, until a mode has worked, a mode is probed without the client's retries, so a
 * rejected option costs one request; a probe that fails for any other reason is sent again with
 * what is left of the client's bounded retries.
 */
async function createCompletion(
  client: OpenAI,
  exchange: JsonExchange<unknown>,
  messages: readonly ChatCompletionMessageParam[],
): Promise<{ completion: OpenAI.Chat.Completions.ChatCompletion; mode: ConcreteOutputMode }> {
  const modes = modesToTry(exchange.outputMode, client.baseURL, exchange.model);
  const secrets = [client.apiKey];
  for (let i = 0; i < modes.length; i++) {
    const mode = modes[i]!;
    const format = responseFormatFor(mode, exchange.schemaName, exchange.jsonSchema, exchange.grammarSchema);
    const params: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming = {
      model: exchange.model,
      messages: [...messages],
      ...(exchange.temperature !== undefined ? { temperature: exchange.temperature } : {}),
      ...(exchange.maxTokens !== undefined ? { max_tokens: exchange.maxTokens } : {}),
      ...(format ? { response_format: format } : {}),
    };
    const probing = modes.length > 1 && i < modes.length - 1;
    try {
      const completion = await client.chat.completions.create(params, probing ? { maxRetries: 0 } : {});
      rememberOutputMode(exchange.outputMode, client.baseURL, exchange.model, mode);
      return { completion, mode };
    } catch (error) {
      if (probing && isResponseFormatRejection(error)) continue;
      // The probe was the first try: what is left of the client's retry budget follows, for the
      // failures the client itself would retry (connection, timeout, 408/409/429/5xx) only.
      if (!probing || client.maxRetries < 1 || !clientWouldRetry(error)) throw toLlmError(error, exchange.caseId, exchange.purpose, secrets);
      try {
        const completion = await client.chat.completions.create(params, { maxRetries: client.maxRetries - 1 });
        rememberOutputMode(exchange.outputMode, client.baseURL, exchange.model, mode);
        return { completion, mode };
      } catch (retryError) {
        throw toLlmError(retryError, exchange.caseId, exchange.purpose, secrets);
      }
    }
  }
  throw new MewmError('InvalidConfig', `${exchange.purpose} for case ${exchange.caseId}: no output mode to try`, { caseId: exchange.caseId });
}

/** Asks for a JSON answer, validates it, and re-asks with the validation error up to `repairAttempts` times. */
export async function completeJson<T>(client: OpenAI, exchange: JsonExchange<T>): Promise<JsonAnswer<T>> {
  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: exchange.system },
    { role: 'user', content: typeof exchange.user === 'string' ? exchange.user : [...exchange.user] },
  ];
  const errors: string[] = [];
  for (let attempt = 1; attempt <= exchange.repairAttempts + 1; attempt++) {
    const { completion, mode } = await createCompletion(client, exchange as JsonExchange<unknown>, messages);
    const choice = completion.choices?.[0];
    const content = choice?.message?.content ?? '';
    const refusal = choice?.message?.refusal;
    const parsed: Validation<unknown> = refusal ? { ok: false, error: `the model refused: ${refusal}` } : parseJsonAnswer(content);
    const checked = parsed.ok ? exchange.validate(parsed.value) : parsed;
    if (checked.ok) {
      return {
        value: checked.value,
        attempts: attempt,
        raw: stripThinking(content).slice(0, MAX_RAW_ANSWER),
        model: completion.model ?? exchange.model,
        outputMode: mode,
        problems: errors,
      };
    }
    errors.push(checked.error);
    messages.push({ role: 'assistant', content: content.length > 0 ? content : '(empty answer)' });
    messages.push({
      role: 'user',
      content: `Your previous answer was invalid: ${checked.error}\nAnswer again with one JSON object only, following the required format and using only names from the given lists.`,
    });
  }
  throw new MewmError(
    'PolicyOutputInvalid',
    `${exchange.purpose} for case ${exchange.caseId}: the model answered outside the schema or vocabulary ${errors.length} times; last problem: ${errors[errors.length - 1] ?? 'unknown'}`,
    { caseId: exchange.caseId, purpose: exchange.purpose, attempts: errors.length, problems: errors },
  );
}
