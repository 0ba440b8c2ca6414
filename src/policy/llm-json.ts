/**
 * One JSON-answer exchange with an OpenAI-compatible chat endpoint, shared by the proposal,
 * refinement, baseline and extraction calls: structured output where enabled, validation
 * always, bounded re-asks that feed the validation error back, and typed failures:
 * - transport trouble (429, 5xx, timeouts, refused connections) after the client's own bounded
 *   retries → `LlmUnavailable` (retryable, e.g. by the Temporal activity);
 * - answers that stay invalid after the re-asks → `PolicyOutputInvalid` (not retryable);
 * - 400/401/403/404 → `InvalidConfig` (wrong key, model or unsupported option).
 */
import OpenAI from 'openai';
import type { ChatCompletionContentPart, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { MewmError } from '../core/errors';
import type { LlmEndpointConfig, OutputMode } from './config';

export type Validation<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export interface JsonExchange<T> {
  readonly model: string;
  readonly system: string;
  readonly user: string | readonly ChatCompletionContentPart[];
  readonly outputMode: OutputMode;
  readonly schemaName: string;
  /** JSON Schema of the answer, for `json_schema` structured output (strict subset). */
  readonly jsonSchema: Record<string, unknown>;
  /** Validates the parsed JSON and maps it onto the domain; the error text is fed back to the model. */
  readonly validate: (value: unknown) => Validation<T>;
  readonly repairAttempts: number;
  /** Sampling temperature; omitted for reasoning models, several of which reject it. */
  readonly temperature?: number;
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

function responseFormat(mode: OutputMode, name: string, schema: Record<string, unknown>): OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming['response_format'] {
  switch (mode) {
    case 'json_schema':
      return { type: 'json_schema', json_schema: { name, schema, strict: true } };
    case 'json_object':
      return { type: 'json_object' };
    case 'none':
      return undefined;
  }
}

/** Converts a client failure into the mewm error that says whether retrying can help. */
export function toLlmError(error: unknown, caseId: string, purpose: string): MewmError {
  if (error instanceof MewmError) return error;
  const where = `${purpose} for case ${caseId}`;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new MewmError('LlmUnavailable', `LLM endpoint timed out (${where})`, { caseId, purpose }, { cause: error });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new MewmError('LlmUnavailable', `LLM endpoint unreachable (${where}): ${error.message}`, { caseId, purpose }, { cause: error });
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status;
    if (status === 408 || status === 409 || status === 429 || (status !== undefined && status >= 500)) {
      return new MewmError('LlmUnavailable', `LLM endpoint answered HTTP ${status} (${where})`, { caseId, purpose, status }, { cause: error });
    }
    const hint =
      status === 401 || status === 403
        ? 'check OPENAI_API_KEY'
        : status === 404
          ? 'check OPENAI_BASE_URL and MEWM_POLICY_MODEL'
          : 'the endpoint rejected the request; if it lacks structured outputs set MEWM_POLICY_OUTPUT=json_object or none';
    return new MewmError('InvalidConfig', `LLM endpoint answered HTTP ${status ?? '?'} (${where}): ${hint}`, { caseId, purpose, status }, { cause: error });
  }
  return new MewmError('Internal', `LLM call failed (${where}): ${error instanceof Error ? error.message : String(error)}`, { caseId, purpose }, { cause: error });
}

/** Asks for a JSON answer, validates it, and re-asks with the validation error up to `repairAttempts` times. */
export async function completeJson<T>(client: OpenAI, exchange: JsonExchange<T>): Promise<JsonAnswer<T>> {
  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: exchange.system },
    { role: 'user', content: typeof exchange.user === 'string' ? exchange.user : [...exchange.user] },
  ];
  const format = responseFormat(exchange.outputMode, exchange.schemaName, exchange.jsonSchema);
  const errors: string[] = [];
  for (let attempt = 1; attempt <= exchange.repairAttempts + 1; attempt++) {
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await client.chat.completions.create({
        model: exchange.model,
        messages,
        ...(exchange.temperature !== undefined ? { temperature: exchange.temperature } : {}),
        ...(format ? { response_format: format } : {}),
      });
    } catch (error) {
      throw toLlmError(error, exchange.caseId, exchange.purpose);
    }
    const choice = completion.choices?.[0];
    const content = choice?.message?.content ?? '';
    const refusal = choice?.message?.refusal;
    const parsed: Validation<unknown> = refusal ? { ok: false, error: `the model refused: ${refusal}` } : parseJsonAnswer(content);
    const checked = parsed.ok ? exchange.validate(parsed.value) : parsed;
    if (checked.ok) return { value: checked.value, attempts: attempt, raw: stripThinking(content), model: completion.model ?? exchange.model };
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
