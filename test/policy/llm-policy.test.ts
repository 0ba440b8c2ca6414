import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMewmError, type MewmError } from '../../src/core/errors';
import { isValidProtocol } from '../../src/core/vocabulary';
import { llmEndpointConfig, type LlmEndpointConfig } from '../../src/policy/config';
import { LlmPolicy } from '../../src/policy/llm-policy';
import type { ProposalRequest } from '../../src/policy/policy';
import { content, json, startFakeOpenAi, status, type FakeOpenAi } from '../support/fake-openai';
import { GOAL, observation } from './fixtures';

let server: FakeOpenAi;
beforeAll(async () => {
  server = await startFakeOpenAi();
});
afterAll(async () => {
  await server.close();
});

const config = (overrides: Partial<LlmEndpointConfig> = {}): LlmEndpointConfig =>
  llmEndpointConfig({ baseURL: server.baseURL, apiKey: 'test-key', model: 'fake-vlm', timeoutMs: 5_000, maxRetries: 2, repairAttempts: 2, ...overrides });

// A 1x1 PNG is enough to check the image travels as a data URL.
const PNG = Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==', 'base64'));

const request = (overrides: Partial<ProposalRequest> = {}): ProposalRequest => ({
  caseId: 'case-0007',
  observation: observation(),
  goal: GOAL,
  drugCount: 3,
  embolicCount: 2,
  keySlicesPng: [PNG, PNG],
  ...overrides,
});

const valid = {
  observation: 'Solitary hypervascular lesion in the right lobe.',
  drugs: ['THP', 'Raltitrexed', 'lobaplatin'],
  embolics: ['Lipiodol', 'gelfoam'],
  rationale: 'cTACE with anthracycline emulsion plus gelatin sponge.',
};

async function expectMewmError(promise: Promise<unknown>, code: MewmError['code']): Promise<MewmError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isMewmError(error, code), `expected MewmError ${code}, got ${String(error)}`).toBe(true);
  return error as MewmError;
}

describe('LlmPolicy against a scripted OpenAI-compatible endpoint over HTTP', () => {
  it('parses a valid answer, maps synonyms onto the vocabulary and records model and prompt version', async () => {
    server.script(json(valid, 'fake-vlm-2026'));
    const proposal = await new LlmPolicy(config()).propose(request());
    expect(proposal.drugs).toEqual(['pirarubicin', 'raltitrexed', 'lobaplatin']);
    expect(proposal.embolics).toEqual(['lipiodol', 'gelatin-sponge']);
    expect(proposal.removals).toEqual([]);
    expect(proposal.policy).toMatchObject({ name: 'llm', models: ['fake-vlm-2026'], promptVersions: { propose: 'propose.v1' } });

    expect(server.requests).toHaveLength(1);
    const sent = server.requests[0]!;
    expect(sent.model).toBe('fake-vlm');
    expect(sent.response_format?.type).toBe('json_schema');
    expect(sent.response_format?.json_schema?.strict).toBe(true);
    const user = sent.messages[1]!.content as Array<{ type: string; text?: string; image_url?: { url: string } }>;
    expect(user.filter((p) => p.type === 'image_url').map((p) => p.image_url!.url.slice(0, 22))).toEqual(['data:image/png;base64,', 'data:image/png;base64,']);
    expect(user[0]!.text).toContain('42 mm');
    expect(user[0]!.text).not.toContain('case-0007');
  });

  it('sends text only when images are disabled, and json_object / no response_format per output mode', async () => {
    server.script(json(valid), json(valid));
    await new LlmPolicy(config({ sendImages: false, outputMode: 'json_object' })).propose(request());
    await new LlmPolicy(config({ outputMode: 'none' })).propose(request({ keySlicesPng: [] }));
    expect(typeof server.requests[0]!.messages[1]!.content).toBe('string');
    expect(server.requests[0]!.response_format).toEqual({ type: 'json_object' });
    expect(server.requests[1]!.response_format).toBeUndefined();
  });

  it('accepts agents listed as objects with a name (plain JSON mode habit)', async () => {
    server.script(json({ ...valid, drugs: [{ name: 'Epirubicin', reason: 'standard' }, 'Raltitrexed'] }));
    const proposal = await new LlmPolicy(config({ outputMode: 'json_object' })).propose(request());
    expect(proposal.drugs).toEqual(['epirubicin', 'raltitrexed']);
    expect(server.requests[0]!.temperature).toBe(0);
  });

  it('repairs malformed JSON by re-asking with the parse error fed back', async () => {
    server.script(content('{"drugs": ["Cisplatin", "embolics": '), content('```json\n' + JSON.stringify(valid) + '\n```'));
    const proposal = await new LlmPolicy(config()).propose(request());
    expect(proposal.drugs).toEqual(['pirarubicin', 'raltitrexed', 'lobaplatin']);
    expect(server.requests).toHaveLength(2);
    const feedback = server.requests[1]!.messages.at(-1)!;
    expect(feedback.role).toBe('user');
    expect(String(feedback.content)).toContain('not valid JSON');
    expect(server.requests[1]!.messages.at(-2)!.role).toBe('assistant');
  });

  it('repairs out-of-vocabulary names by naming them in the feedback', async () => {
    server.script(json({ ...valid, drugs: ['Sorafenib', 'Epirubicin'] }), json(valid));
    const proposal = await new LlmPolicy(config()).propose(request());
    expect(proposal.drugs).toContain('pirarubicin');
    expect(String(server.requests[1]!.messages.at(-1)!.content)).toContain('"Sorafenib" is not a drug or embolic of the vocabulary');
  });

  it('rejects an embolic listed as a drug and a schema violation, then repairs', async () => {
    server.script(json({ ...valid, drugs: ['Lipiodol'] }), json({ drugs: 'Cisplatin' }), json(valid));
    const proposal = await new LlmPolicy(config()).propose(request());
    expect(proposal.embolics).toEqual(['lipiodol', 'gelatin-sponge']);
    expect(String(server.requests[1]!.messages.at(-1)!.content)).toContain('listed among the drugs');
    expect(String(server.requests[2]!.messages.at(-1)!.content)).toContain('does not match the format');
  });

  it('fails as PolicyOutputInvalid (not retryable) when the answer stays out of vocabulary, never empty', async () => {
    server.script(json({ ...valid, embolics: ['Y-90 microspheres'] }), json({ ...valid, embolics: ['Y-90 microspheres'] }), json({ ...valid, embolics: [] }));
    const error = await expectMewmError(new LlmPolicy(config()).propose(request()), 'PolicyOutputInvalid');
    expect(error.retryable).toBe(false);
    expect(error.details.attempts).toBe(3);
    expect(error.message).toContain('case-0007');
    expect(server.requests).toHaveLength(3);
  });

  it('treats an empty answer and a refusal as invalid and re-asks', async () => {
    server.script(content(null), { kind: 'content', content: null, refusal: 'I cannot help' }, json(valid));
    const proposal = await new LlmPolicy(config()).propose(request());
    expect(proposal.drugs.length).toBeGreaterThan(0);
    expect(String(server.requests[1]!.messages.at(-1)!.content)).toContain('empty');
    expect(String(server.requests[2]!.messages.at(-1)!.content)).toContain('refused');
  });

  it('applies the clinical rules to conflicting drugs and records each removal with its rule', async () => {
    server.script(json({ ...valid, drugs: ['Cisplatin', 'Oxaliplatin', 'Epirubicin', 'Pirarubicin'], embolics: ['PVA', 'LC beads', 'Lipiodol'] }));
    const proposal = await new LlmPolicy(config()).propose(request({ drugCount: 4, embolicCount: 3 }));
    expect(proposal.drugs).toEqual(['cisplatin', 'epirubicin']);
    expect(proposal.embolics).toEqual(['pva', 'lipiodol']);
    expect(proposal.removals).toEqual([
      { agent: 'oxaliplatin', rule: 'single-platinum', keptInstead: 'cisplatin' },
      { agent: 'pirarubicin', rule: 'single-anthracycline', keptInstead: 'epirubicin' },
      { agent: 'drug-eluting-beads', rule: 'single-permanent-particle', keptInstead: 'pva' },
    ]);
    expect(isValidProtocol({ drugs: proposal.drugs, embolics: proposal.embolics })).toBe(true);
  });

  it('retries HTTP 429 inside the client and then parses the answer', async () => {
    server.script(status(429, { 'retry-after-ms': '5' }), json(valid));
    const proposal = await new LlmPolicy(config()).propose(request());
    expect(proposal.drugs).toEqual(['pirarubicin', 'raltitrexed', 'lobaplatin']);
    expect(server.requests).toHaveLength(2);
  });

  it('turns persistent HTTP 500 into LlmUnavailable (retryable) after the bounded client retries', async () => {
    server.script(status(500, { 'retry-after-ms': '5' }), status(500, { 'retry-after-ms': '5' }), status(500, { 'retry-after-ms': '5' }));
    const error = await expectMewmError(new LlmPolicy(config({ maxRetries: 1 })).propose(request()), 'LlmUnavailable');
    expect(error.retryable).toBe(true);
    expect(error.details.status).toBe(500);
    expect(server.requests).toHaveLength(2);
  });

  it('turns a slow endpoint into LlmUnavailable via the client timeout', async () => {
    server.script({ kind: 'delay', delayMs: 3_000, then: json(valid) }, { kind: 'delay', delayMs: 3_000, then: json(valid) });
    const error = await expectMewmError(new LlmPolicy(config({ timeoutMs: 250, maxRetries: 1 })).propose(request()), 'LlmUnavailable');
    expect(error.message).toContain('timed out');
    expect(server.requests).toHaveLength(2);
  });

  it('turns HTTP 401 into InvalidConfig naming the key variable', async () => {
    server.script(status(401));
    const error = await expectMewmError(new LlmPolicy(config()).propose(request()), 'InvalidConfig');
    expect(error.message).toContain('OPENAI_API_KEY');
    expect(server.requests).toHaveLength(1);
  });

  it('reports an unreachable endpoint as LlmUnavailable', async () => {
    const closed = await startFakeOpenAi();
    const baseURL = closed.baseURL;
    await closed.close();
    await expectMewmError(new LlmPolicy(config({ baseURL, maxRetries: 0 })).propose(request()), 'LlmUnavailable');
  });

  it('rejects non-positive candidate counts as InvalidInput before calling the endpoint', async () => {
    server.script();
    await expectMewmError(new LlmPolicy(config()).propose(request({ drugCount: 0 })), 'InvalidInput');
    expect(server.requests).toHaveLength(0);
  });
});
