/**
 * Structured output against a scripted endpoint over HTTP: `auto` finds the response-format
 * dialect an endpoint speaks (OpenAI's json_schema, llama-cpp-python's json_object + schema,
 * plain json_object, none), remembers it, and the answer is validated and repaired whatever the
 * mode. Every exchange is recorded for the audit.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isMewmError } from '../../src/core/errors';
import { llmEndpointConfig, policyConfigFromEnv, type LlmEndpointConfig } from '../../src/policy/config';
import { LlmPolicy } from '../../src/policy/llm-policy';
import { LlmProtocolBaseline } from '../../src/policy/llm-baseline';
import { isResponseFormatRejection, negotiatedOutputMode, resetOutputNegotiation } from '../../src/policy/structured-output';
import { json, startFakeOpenAi, type ChatRequestBody, type FakeOpenAi, type ScriptedReply } from '../support/fake-openai';
import { GOAL, observation } from './fixtures';

let server: FakeOpenAi;
beforeAll(async () => {
  server = await startFakeOpenAi();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => resetOutputNegotiation());

const config = (overrides: Partial<LlmEndpointConfig> = {}): LlmEndpointConfig =>
  llmEndpointConfig({
    baseURL: server.baseURL,
    apiKey: 'test-key',
    model: 'fake-llm',
    timeoutMs: 5_000,
    maxRetries: 2,
    repairAttempts: 2,
    sendImages: false,
    ...overrides,
  });

const request = { caseId: 'case-0009', observation: observation(), goal: GOAL, drugCount: 2, embolicCount: 2 };
const valid = { observation: 'one lesion', drugs: ['Epirubicin', 'Raltitrexed'], embolics: ['Lipiodol', 'Gelatin Sponge'], rationale: 'cTACE' };

/** llama-cpp-python's answer to `json_schema`: HTTP 500 naming the response_format type. */
const LLAMA_CPP_REJECTION =
  "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}]";

/** An endpoint that speaks only `accepted` response formats (by type, and whether it takes a schema). */
function dialect(
  accepts: (format: ChatRequestBody['response_format'] & { schema?: unknown }) => boolean,
  answer: ScriptedReply,
  rejection: ScriptedReply,
): ScriptedReply {
  return { kind: 'dynamic', reply: (body) => (accepts(body.response_format as never) ? answer : rejection) };
}

describe('structured output negotiation (auto)', () => {
  it('asks OpenAI-style endpoints for strict json_schema with the vocabulary as enums, once', async () => {
    server.script(json(valid), json(valid));
    const policy = new LlmPolicy(config());
    const proposal = await policy.propose(request);
    await policy.propose(request);
    expect(server.requests).toHaveLength(2);
    const format = server.requests[0]!.response_format!;
    expect(format.type).toBe('json_schema');
    expect(format.json_schema!.strict).toBe(true);
    const schema = format.json_schema!.schema as { properties: { drugs: { items: { enum: string[] } } } };
    expect(schema.properties.drugs.items.enum).toContain('Epirubicin');
    expect(schema.properties.drugs.items.enum).not.toContain('Lipiodol');
    expect(negotiatedOutputMode(server.baseURL, 'fake-llm')).toBe('json_schema');
    expect(proposal.exchanges).toEqual([
      {
        purpose: 'propose',
        model: 'fake-llm',
        promptVersion: 'propose.v1',
        outputMode: 'json_schema',
        attempts: 1,
        problems: [],
        rawAnswer: JSON.stringify(valid),
      },
    ]);
  });

  it("falls back to llama-cpp-python's json_object + schema when json_schema is refused with HTTP 500, without the client's retries", async () => {
    const reply = dialect((f) => f?.type === 'json_object' && f.schema !== undefined, json(valid), {
      kind: 'status',
      status: 500,
      message: LLAMA_CPP_REJECTION,
    });
    server.script(reply, reply, reply);
    const policy = new LlmPolicy(config());
    const first = await policy.propose(request);
    expect(server.requests.map((r) => r.response_format?.type)).toEqual(['json_schema', 'json_object']);
    const grammar = (server.requests[1]!.response_format as unknown as { schema: { properties: { drugs: { minItems: number; maxItems: number } } } }).schema;
    expect(grammar.properties.drugs).toMatchObject({ minItems: 1, maxItems: 12 });
    expect(first.exchanges![0]!.outputMode).toBe('json_object_schema');
    // Remembered: the next proposal goes straight to the dialect that worked.
    await policy.propose(request);
    expect(server.requests.map((r) => r.response_format?.type)).toEqual(['json_schema', 'json_object', 'json_object']);
  });

  it('steps down to plain json_object, then to no response_format, on HTTP 400 naming the option', async () => {
    const rejection: ScriptedReply = { kind: 'status', status: 400, message: "Invalid parameter: 'response_format' is not supported with this model." };
    const reply = dialect((f) => f === undefined, json(valid), rejection);
    server.script(reply, reply, reply, reply);
    const proposal = await new LlmPolicy(config()).propose(request);
    expect(server.requests.map((r) => (r.response_format ? `${r.response_format.type}${'schema' in r.response_format ? '+schema' : ''}` : 'none'))).toEqual([
      'json_schema',
      'json_object+schema',
      'json_object',
      'none',
    ]);
    expect(proposal.exchanges![0]!.outputMode).toBe('none');
  });

  it('does not mistake an ordinary failure for a rejected option: a 500 without the option named is retried, not demoted', async () => {
    server.script({ kind: 'status', status: 500, message: 'upstream overloaded' }, json(valid));
    const proposal = await new LlmPolicy(config()).propose(request);
    expect(server.requests.map((r) => r.response_format?.type)).toEqual(['json_schema', 'json_schema']);
    expect(proposal.exchanges![0]!.outputMode).toBe('json_schema');
  });

  it('fails typed when even no response_format is accepted', async () => {
    const rejection: ScriptedReply = { kind: 'status', status: 400, message: 'response_format unsupported' };
    server.script(rejection, rejection, rejection, { kind: 'status', status: 400, message: 'bad request' });
    const error = await new LlmPolicy(config()).propose(request).catch((e: unknown) => e);
    expect(isMewmError(error, 'InvalidConfig')).toBe(true);
    expect(server.requests).toHaveLength(4);
  });

  it("keeps a configured mode as it is: no probing, the endpoint's refusal is a typed configuration error", async () => {
    server.script({ kind: 'status', status: 500, message: LLAMA_CPP_REJECTION });
    const error = await new LlmPolicy(config({ outputMode: 'json_schema', maxRetries: 0 })).propose(request).catch((e: unknown) => e);
    expect(isMewmError(error, 'LlmUnavailable')).toBe(true);
    expect(server.requests).toHaveLength(1);
    server.script(json(valid));
    await new LlmPolicy(config({ outputMode: 'json_object_schema' })).propose(request);
    expect(server.requests[0]!.response_format).toMatchObject({ type: 'json_object', schema: { type: 'object' } });
  });

  it('still validates and repairs when an endpoint accepts the schema but ignores it, and records the problems', async () => {
    server.script(json({ ...valid, drugs: [] }), json(valid));
    const proposal = await new LlmPolicy(config()).propose(request);
    expect(proposal.exchanges![0]).toMatchObject({ attempts: 2, outputMode: 'json_schema' });
    expect(proposal.exchanges![0]!.problems).toEqual([expect.stringContaining('list at least one drug')]);
  });

  it('the baseline records its exchange too', async () => {
    server.script(json({ chemotherapy_drugs: ['Epirubicin'], embolization_materials: ['Lipiodol'], rationale: 'r' }));
    const prediction = await new LlmProtocolBaseline(config()).predict({ caseId: 'case-1', observation: observation(), goal: GOAL });
    expect(prediction.exchange).toMatchObject({ purpose: 'baseline', promptVersion: 'protocol-baseline.v1', outputMode: 'json_schema', attempts: 1 });
  });

  it('MEWM_POLICY_OUTPUT defaults to auto and accepts every mode by name', () => {
    expect(policyConfigFromEnv({ OPENAI_BASE_URL: 'http://127.0.0.1:1/v1' }).llm!.outputMode).toBe('auto');
    for (const mode of ['json_schema', 'json_object_schema', 'json_object', 'none']) {
      expect(policyConfigFromEnv({ OPENAI_BASE_URL: 'http://127.0.0.1:1/v1', MEWM_POLICY_OUTPUT: mode }).llm!.outputMode).toBe(mode);
    }
    expect(() => policyConfigFromEnv({ OPENAI_BASE_URL: 'http://127.0.0.1:1/v1', MEWM_POLICY_OUTPUT: 'grammar' })).toThrow(/MEWM_POLICY_OUTPUT must be one of/);
  });

  it('isResponseFormatRejection is false for non-HTTP errors', () => {
    expect(isResponseFormatRejection(new Error('response_format'))).toBe(false);
  });
});
