/**
 * Policy configuration, parsed once from the environment at start-up (as the `policy` section of
 * the typed configuration, src/config/config.ts) or given explicitly, and validated.
 * No LLM endpoint configured → the guideline policy; the CLI reports which one it used.
 *
 * Environment:
 * - `OPENAI_BASE_URL`            OpenAI-compatible endpoint (vLLM, Ollama, DeepSeek, Azure proxies…)
 * - `OPENAI_API_KEY`             key; a local endpoint without auth may leave it unset
 * - `MEWM_POLICY`                `auto` (default) | `guideline` | `llm` | `action-base` (every agent of
 *                                the vocabulary, first D and E in vocabulary order: the planner's upper bound
 *                                with the oracle world model, not a clinical policy)
 * - `MEWM_POLICY_MODEL`          proposal model (default `gpt-4o`)
 * - `MEWM_REFINE_MODEL`          reasoning model for the optional refinement (unset: no refinement)
 * - `MEWM_EXTRACT_MODEL`         model for report extraction (default: the proposal model)
 * - `MEWM_POLICY_TIMEOUT_MS`     per-request timeout (default 60000)
 * - `MEWM_POLICY_MAX_RETRIES`    the client's own retries on 429/5xx/timeouts (default 2)
 * - `MEWM_POLICY_REPAIR_ATTEMPTS` re-asks after an invalid answer (default 2)
 * - `MEWM_POLICY_OUTPUT`         `auto` (default: the strongest structured output the endpoint accepts) |
 *                                `json_schema` | `json_object_schema` (llama-cpp-python) | `json_object` | `none`
 * - `MEWM_POLICY_IMAGES`         `1` (default) sends key-slice PNGs; `0` for text-only models
 * - `MEWM_POLICY_MAX_TOKENS`     cap on each answer's tokens (`max_tokens`; unset: not sent). Small local
 *                                models without a schema may otherwise write until the context is full
 */
import { MewmError } from '../core/errors';

/** How answers are constrained (src/policy/structured-output.ts). */
export type OutputMode = 'auto' | 'json_schema' | 'json_object_schema' | 'json_object' | 'none';
export const OUTPUT_MODES: readonly OutputMode[] = ['auto', 'json_schema', 'json_object_schema', 'json_object', 'none'];

export interface LlmEndpointConfig {
  readonly baseURL: string;
  readonly apiKey: string;
  readonly model: string;
  readonly refineModel?: string;
  readonly extractModel: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly repairAttempts: number;
  readonly outputMode: OutputMode;
  /** Output mode for the reasoning model: many reasoning endpoints reject `response_format`. */
  readonly refineOutputMode: OutputMode;
  readonly sendImages: boolean;
  /** Cap on the answer's tokens (`max_tokens`); unset: not sent (some reasoning endpoints reject it). */
  readonly maxTokens?: number;
}

export interface PolicyConfig {
  /** Absent: no endpoint configured, the guideline policy is used. */
  readonly llm?: LlmEndpointConfig;
  /** `MEWM_POLICY=action-base`: propose the vocabulary itself (src/policy/action-base.ts). */
  readonly actionBase?: true;
}

export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/** Sent when an endpoint needs no key (local vLLM/Ollama); the client refuses an empty one. */
export const NO_KEY = 'no-key-configured';

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MewmError('InvalidConfig', `${name} must be an integer in [${min}, ${max}], got "${raw}"`, { variable: name });
  }
  return value;
}

function outputMode(env: Env, name: string, fallback: OutputMode): OutputMode {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if ((OUTPUT_MODES as readonly string[]).includes(raw)) return raw as OutputMode;
  throw new MewmError('InvalidConfig', `${name} must be one of ${OUTPUT_MODES.join(', ')}, got "${raw}"`, { variable: name });
}

/** Fills defaults and validates an explicit endpoint configuration. */
export function llmEndpointConfig(partial: Partial<LlmEndpointConfig> & { baseURL?: string }): LlmEndpointConfig {
  const baseURL = partial.baseURL ?? DEFAULT_BASE_URL;
  try {
    new URL(baseURL);
  } catch {
    throw new MewmError('InvalidConfig', `OPENAI_BASE_URL is not a URL: "${baseURL}"`, { variable: 'OPENAI_BASE_URL' });
  }
  const model = partial.model ?? 'gpt-4o';
  const config: LlmEndpointConfig = {
    baseURL,
    apiKey: partial.apiKey && partial.apiKey.length > 0 ? partial.apiKey : NO_KEY,
    model,
    extractModel: partial.extractModel ?? model,
    timeoutMs: partial.timeoutMs ?? 60_000,
    maxRetries: partial.maxRetries ?? 2,
    repairAttempts: partial.repairAttempts ?? 2,
    outputMode: partial.outputMode ?? 'auto',
    refineOutputMode: partial.refineOutputMode ?? 'none',
    sendImages: partial.sendImages ?? true,
    ...(partial.refineModel ? { refineModel: partial.refineModel } : {}),
    ...(partial.maxTokens !== undefined ? { maxTokens: partial.maxTokens } : {}),
  };
  if (config.timeoutMs <= 0) throw new MewmError('InvalidConfig', 'policy timeoutMs must be positive', { timeoutMs: config.timeoutMs });
  if (config.maxRetries < 0 || config.repairAttempts < 0) throw new MewmError('InvalidConfig', 'policy maxRetries and repairAttempts must be ≥ 0');
  return config;
}

/** Parses the policy configuration from environment variables (once, at start-up: src/config loadConfig). */
export function policyConfigFromEnv(env: Env): PolicyConfig {
  const choice = env.MEWM_POLICY?.trim() || 'auto';
  if (choice !== 'auto' && choice !== 'guideline' && choice !== 'llm' && choice !== 'action-base') {
    throw new MewmError('InvalidConfig', `MEWM_POLICY must be auto, guideline, llm or action-base, got "${choice}"`, { variable: 'MEWM_POLICY' });
  }
  if (choice === 'guideline') return {};
  if (choice === 'action-base') return { actionBase: true };
  const baseURL = env.OPENAI_BASE_URL?.trim() || undefined;
  const apiKey = env.OPENAI_API_KEY?.trim() || undefined;
  if (!baseURL && !apiKey) {
    if (choice === 'llm') {
      throw new MewmError('InvalidConfig', 'MEWM_POLICY=llm needs OPENAI_API_KEY and/or OPENAI_BASE_URL (see docs/policy.md)', { variable: 'OPENAI_API_KEY' });
    }
    return {};
  }
  const refineModel = env.MEWM_REFINE_MODEL?.trim() || undefined;
  const maxTokens = env.MEWM_POLICY_MAX_TOKENS?.trim() ? integer(env, 'MEWM_POLICY_MAX_TOKENS', 0, 16, 1_000_000) : undefined;
  const extractModel = env.MEWM_EXTRACT_MODEL?.trim() || undefined;
  return {
    llm: llmEndpointConfig({
      ...(baseURL ? { baseURL } : {}),
      ...(apiKey ? { apiKey } : {}),
      model: env.MEWM_POLICY_MODEL?.trim() || 'gpt-4o',
      ...(refineModel ? { refineModel } : {}),
      ...(extractModel ? { extractModel } : {}),
      timeoutMs: integer(env, 'MEWM_POLICY_TIMEOUT_MS', 60_000, 1, 3_600_000),
      maxRetries: integer(env, 'MEWM_POLICY_MAX_RETRIES', 2, 0, 10),
      repairAttempts: integer(env, 'MEWM_POLICY_REPAIR_ATTEMPTS', 2, 0, 10),
      outputMode: outputMode(env, 'MEWM_POLICY_OUTPUT', 'auto'),
      refineOutputMode: outputMode(env, 'MEWM_REFINE_OUTPUT', 'none'),
      sendImages: (env.MEWM_POLICY_IMAGES?.trim() ?? '1') !== '0',
      ...(maxTokens !== undefined ? { maxTokens } : {}),
    }),
  };
}
