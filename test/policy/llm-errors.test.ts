/**
 * Upstream error bodies never travel on (issue 11 item 4): an endpoint's 401 that echoes the key,
 * a 400 that quotes a bearer token, a 500 with a stack — each becomes a mewm error holding the
 * HTTP status and a short redacted message, with a plain cause and no client error object, so
 * nothing secret reaches stderr, pino logs or the Temporal history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMewmError, type MewmError } from '../../src/core/errors';
import { llmEndpointConfig } from '../../src/policy/config';
import { LlmPolicy } from '../../src/policy/llm-policy';
import { redactSecrets } from '../../src/policy/llm-errors';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai';
import { GOAL, observation } from './fixtures';

/** A fake key in OpenAI's shape, and one without any prefix (a proxy's own token). */
const FAKE_KEY = 'sk-mewm-FAKE-0123456789abcdefghijKLMNOP';
const BARE_KEY = 'q8ZxW3vN5tL1mK7pR2sD9fG4hJ6';

let server: FakeOpenAi;
beforeAll(async () => {
  server = await startFakeOpenAi();
});
afterAll(async () => {
  await server.close();
});

const request = { caseId: 'case-0042', observation: observation(), goal: GOAL, drugCount: 2, embolicCount: 2 };

/** Everything an error carries that could be logged or stored: message, details, cause chain, own properties. */
function everything(error: unknown): string {
  const seen: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e && depth < 10; depth++) {
    if (e instanceof Error) {
      seen.push(e.name, e.message, String(e.stack), JSON.stringify(Object.fromEntries(Object.entries(e))));
      e = e.cause;
    } else {
      seen.push(JSON.stringify(e));
      break;
    }
  }
  return seen.join('\n');
}

async function failure(apiKey: string, status: number, message: string): Promise<MewmError> {
  server.script({ kind: 'status', status, message });
  const policy = new LlmPolicy(
    llmEndpointConfig({ baseURL: server.baseURL, apiKey, model: 'fake-llm', maxRetries: 0, timeoutMs: 5_000, outputMode: 'json_schema' }),
  );
  const error = await policy.propose(request).catch((e: unknown) => e);
  expect(isMewmError(error)).toBe(true);
  return error as MewmError;
}

describe('upstream LLM error bodies are reduced to status + a redacted message', () => {
  it('a 401 echoing the key: InvalidConfig with the status, the key nowhere in message, details or cause chain', async () => {
    const error = await failure(FAKE_KEY, 401, `Incorrect API key provided: ${FAKE_KEY}. You can find your API key at https://example.invalid/keys.`);
    expect(error.code).toBe('InvalidConfig');
    expect(error.details).toMatchObject({ status: 401, caseId: 'case-0042' });
    expect(error.message).toContain('HTTP 401');
    expect(error.message).toContain('check OPENAI_API_KEY');
    expect(error.message).toContain('Incorrect API key provided: [redacted]');
    const all = everything(error);
    expect(all).not.toContain(FAKE_KEY);
    expect(all).not.toContain('0123456789abcdef');
    expect((error.cause as Error).name).toBe('LlmEndpointError');
    expect((error.cause as Error).cause).toBeUndefined();
  });

  it('a key without a recognisable prefix is redacted because it is the configured one', async () => {
    const error = await failure(BARE_KEY, 403, `forbidden for token ${BARE_KEY}`);
    expect(everything(error)).not.toContain(BARE_KEY);
  });

  it('a 500 whose body quotes an authorization header and a stack keeps only the status and a short line', async () => {
    const body = `Internal error: headers={'Authorization': 'Bearer ${FAKE_KEY}'}\n${'  at handler (server.py:10)\n'.repeat(50)}`;
    const error = await failure('another-configured-key', 500, body);
    expect(error.code).toBe('LlmUnavailable');
    expect(error.details).toMatchObject({ status: 500 });
    const all = everything(error);
    expect(all).not.toContain(FAKE_KEY);
    expect((error.cause as Error).message.length).toBeLessThanOrEqual(260);
  });

  it.each([
    ['Bearer abc.def.ghi-token', 'Bearer [redacted]'],
    ['api_key=hunter2hunter2 rest', 'api_key=[redacted] rest'],
    ['"x-api-key": "k-123"', '"x-api-key": "[redacted]"'],
    ['http://user:pass@proxy.local/v1', 'http://[redacted]@proxy.local/v1'],
    [`key ${'a1'.repeat(20)} end`, 'key [redacted] end'],
    [
      "Invalid parameter: 'response_format' of type 'json_schema' is not supported",
      "Invalid parameter: 'response_format' of type 'json_schema' is not supported",
    ],
  ])('redactSecrets(%j) → %j', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });
});
