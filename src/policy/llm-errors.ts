/**
 * Upstream LLM failures → mewm errors that are safe to keep. An OpenAI-compatible endpoint's error
 * body can echo the request (a proxy's 401 that quotes the key, a 400 that quotes the prompt) and
 * the client's error object carries the response headers and body. A mewm error's message,
 * `details` and cause chain travel to stderr, pino logs and the Temporal history, so the client
 * error is never kept: it is reduced here to the HTTP status plus a short, redacted message, and
 * that plain `Error` is the only cause.
 *
 * Retryability (the code table in src/core/errors.ts):
 * - 408/409/429/5xx, timeouts, refused connections → `LlmUnavailable` (retryable);
 * - 400/401/403/404/422 → `InvalidConfig` with a hint (wrong key, model or unsupported option);
 * - anything else → `Internal`.
 */
import OpenAI from 'openai';
import { MewmError } from '../core/errors';

/** Longest upstream message kept (after redaction). */
const MAX_UPSTREAM_MESSAGE = 240;
const REDACTED = '[redacted]';

/**
 * Removes what may be a credential from an upstream message: the given secrets verbatim (the
 * configured key), `sk-…`-style keys, `Bearer …`, `api_key=…`-style pairs, user:password in
 * URLs, and any long opaque token (≥ 24 characters of key alphabet with letters and digits, which
 * also covers a key echoed without a prefix). Then shortens it to one line of at most 240 characters.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 6) out = out.split(secret).join(REDACTED);
  // Only the head is kept anyway; bounding the input bounds the regular expressions' work.
  out = out
    .slice(0, 4 * MAX_UPSTREAM_MESSAGE)
    .replace(/\b(?:sk|pk|rk)-[A-Za-z0-9_\-*.]{6,}/gi, REDACTED)
    .replace(/\b(Bearer|Basic|Token)\s+[^\s"',;]+/gi, `$1 ${REDACTED}`)
    .replace(/\b((?:x-)?api[-_]?key|access[-_]?token|token|secret|password|authorization)(["']?\s*[:=]\s*["']?)[^\s"',;}]+/gi, `$1$2${REDACTED}`)
    .replace(/(\/\/)[^/\s:@]+:[^/\s@]+@/g, `$1${REDACTED}@`)
    .replace(/(?=[A-Za-z0-9_\-+/=.*]*\d)(?=[A-Za-z0-9_\-+/=.*]*[A-Za-z])[A-Za-z0-9_\-+/=.*]{24,}/g, REDACTED)
    .replace(/\s+/g, ' ')
    .trim();
  return out.length > MAX_UPSTREAM_MESSAGE ? `${out.slice(0, MAX_UPSTREAM_MESSAGE)}…` : out;
}

/** The upstream error's own message, wherever the endpoint put it. */
function upstreamMessage(error: InstanceType<typeof OpenAI.APIError>): string {
  const body = error.error as { message?: unknown; detail?: unknown } | string | undefined;
  if (typeof body === 'string') return body;
  if (body && typeof body.message === 'string') return body.message;
  if (body && body.detail !== undefined) return typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
  return error.message;
}

/** A plain cause holding only what may be kept: "HTTP 401: <redacted message>". */
export function safeCause(summary: string, secrets: readonly (string | undefined)[]): Error {
  const cause = new Error(redactSecrets(summary, secrets));
  cause.name = 'LlmEndpointError';
  return cause;
}

/** HTTP status and redacted message of a client failure, for error messages and tests. */
export function describeUpstream(error: unknown, secrets: readonly (string | undefined)[] = []): { readonly status?: number; readonly message: string } {
  if (error instanceof OpenAI.APIError && error.status !== undefined) return { status: error.status, message: redactSecrets(upstreamMessage(error), secrets) };
  return { message: redactSecrets(error instanceof Error ? error.message : String(error), secrets) };
}

/**
 * Converts a client failure into the mewm error that says whether retrying can help. `secrets`
 * (the configured key) are redacted from whatever upstream text is kept.
 */
export function toLlmError(error: unknown, caseId: string, purpose: string, secrets: readonly (string | undefined)[] = []): MewmError {
  if (error instanceof MewmError) return error;
  const where = `${purpose} for case ${caseId}`;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new MewmError('LlmUnavailable', `LLM endpoint timed out (${where})`, { caseId, purpose }, { cause: safeCause('timed out', secrets) });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new MewmError(
      'LlmUnavailable',
      `LLM endpoint unreachable (${where})`,
      { caseId, purpose },
      { cause: safeCause(`connection failed: ${error.message}`, secrets) },
    );
  }
  if (error instanceof OpenAI.APIError) {
    const { status, message } = describeUpstream(error, secrets);
    const cause = safeCause(`HTTP ${status ?? '?'}: ${message}`, secrets);
    if (status === 408 || status === 409 || status === 429 || (status !== undefined && status >= 500)) {
      return new MewmError('LlmUnavailable', `LLM endpoint answered HTTP ${status} (${where})`, { caseId, purpose, status }, { cause });
    }
    const hint =
      status === 401 || status === 403
        ? 'check OPENAI_API_KEY'
        : status === 404
          ? 'check OPENAI_BASE_URL and MEWM_POLICY_MODEL'
          : 'the endpoint rejected the request; if it lacks structured outputs set MEWM_POLICY_OUTPUT=json_object or none';
    return new MewmError(
      'InvalidConfig',
      `LLM endpoint answered HTTP ${status ?? '?'} (${where}): ${hint}; upstream said: ${message}`,
      { caseId, purpose, status },
      { cause },
    );
  }
  const { message } = describeUpstream(error, secrets);
  return new MewmError('Internal', `LLM call failed (${where}): ${message}`, { caseId, purpose }, { cause: safeCause(message, secrets) });
}
