import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMewmError } from '../../src/core/errors';
import { Rng } from '../../src/core/random';
import { DRUGS, EMBOLICS, isValidProtocol, ruleViolations, type DrugId, type EmbolicId } from '../../src/core/vocabulary';
import { llmEndpointConfig } from '../../src/policy/config';
import { stripThinking } from '../../src/policy/llm-json';
import { LlmPolicy } from '../../src/policy/llm-policy';
import { assertValidProtocol, enforceClinicalRules } from '../../src/policy/refine';
import { json, content, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai';
import { GOAL, observation } from './fixtures';

describe('enforceClinicalRules', () => {
  it('keeps the better-ranked agent of each conflict and records the rule', () => {
    const result = enforceClinicalRules(['lobaplatin', 'raltitrexed', 'cisplatin', 'fluorouracil'], ['absolute-alcohol', 'lipiodol', 'nbca']);
    expect(result.drugs).toEqual(['lobaplatin', 'raltitrexed']);
    expect(result.embolics).toEqual(['absolute-alcohol', 'lipiodol']);
    expect(result.removals).toEqual([
      { agent: 'cisplatin', rule: 'single-platinum', keptInstead: 'lobaplatin' },
      { agent: 'fluorouracil', rule: 'single-thymidylate-synthase-inhibitor', keptInstead: 'raltitrexed' },
      { agent: 'nbca', rule: 'single-liquid-embolic', keptInstead: 'absolute-alcohol' },
    ]);
  });

  it('records a duplicate candidate', () => {
    expect(enforceClinicalRules(['epirubicin', 'epirubicin'], ['lipiodol']).removals).toEqual([
      { agent: 'epirubicin', rule: 'no-duplicate-agent', keptInstead: 'epirubicin' },
    ]);
  });

  it('never returns a rule-violating set, whatever the ranked input (1,000 random inputs)', () => {
    const rng = new Rng(20261126);
    for (let i = 0; i < 1000; i++) {
      const drugs = rng.shuffle(DRUGS).slice(0, rng.int(1, DRUGS.length)) as DrugId[];
      const embolics = rng.shuffle(EMBOLICS).slice(0, rng.int(1, EMBOLICS.length)) as EmbolicId[];
      if (rng.bernoulli(0.2)) drugs.push(drugs[0]!);
      const result = enforceClinicalRules(drugs, embolics);
      expect(isValidProtocol({ drugs: result.drugs, embolics: result.embolics })).toBe(true);
      // Nothing is lost silently: every input agent is kept or removed with a reason.
      expect(result.drugs.length + result.embolics.length + result.removals.length).toBe(drugs.length + embolics.length);
      expect(result.drugs.length).toBeGreaterThan(0);
      expect(result.embolics.length).toBeGreaterThan(0);
    }
  });

  it('assertValidProtocol throws RuleViolation for a protocol that breaks a rule', () => {
    expect(() => assertValidProtocol({ drugs: ['cisplatin', 'lobaplatin'], embolics: ['lipiodol'] }, 'case-1')).toThrow(/single-platinum/);
    expect(() => assertValidProtocol({ drugs: ['cisplatin'], embolics: ['lipiodol'] }, 'case-1')).not.toThrow();
  });
});

describe('stripThinking', () => {
  it('removes closed and unterminated reasoning blocks', () => {
    expect(stripThinking('<think>platinum twice? no</think>\n{"a":1}')).toBe('{"a":1}');
    expect(stripThinking('{"a":1}<think>cut off')).toBe('{"a":1}');
  });
});

describe('refinement by a reasoning model over HTTP', () => {
  let server: FakeOpenAi;
  beforeAll(async () => {
    server = await startFakeOpenAi();
  });
  afterAll(async () => {
    await server.close();
  });
  const config = () =>
    llmEndpointConfig({ baseURL: server.baseURL, apiKey: 'k', model: 'fake-vlm', refineModel: 'fake-r1', timeoutMs: 5_000, maxRetries: 0, repairAttempts: 1 });
  const request = { caseId: 'case-0042', observation: observation(), goal: GOAL, drugCount: 3, embolicCount: 2 };
  const proposal = {
    observation: 'x',
    drugs: ['Cisplatin', 'Oxaliplatin', 'Epirubicin', 'Idarubicin'],
    embolics: ['Lipiodol', 'Gelatin Sponge', 'NBCA'],
    rationale: 'broad',
  };

  it('strips <think>, applies the removals, records reasons, models and prompt versions', async () => {
    server.script(
      json(proposal),
      content(
        '<think>Cisplatin and oxaliplatin are both platinum agents; NBCA is not used for HCC feeders.</think>' +
          JSON.stringify({
            drugs: ['Cisplatin', 'Epirubicin', 'Idarubicin'],
            embolics: ['Lipiodol', 'Gelatin Sponge'],
            removed: [
              { name: 'Oxaliplatin', reason: 'second platinum' },
              { name: 'NBCA', reason: 'not indicated' },
            ],
            rationale: 'conflicts removed',
          }),
        'fake-r1-0528',
      ),
    );
    const result = await new LlmPolicy(config()).propose(request);
    expect(server.requests[1]!.model).toBe('fake-r1');
    expect(server.requests[1]!.response_format).toBeUndefined();
    expect(server.requests[1]!.temperature).toBeUndefined();
    expect(result.refinerRemovals).toEqual([
      { agent: 'oxaliplatin', reason: 'second platinum' },
      { agent: 'nbca', reason: 'not indicated' },
    ]);
    // The reasoning model left two anthracyclines: the rule engine still removes one, on record.
    expect(result.drugs).toEqual(['cisplatin', 'epirubicin']);
    expect(result.removals).toEqual([{ agent: 'idarubicin', rule: 'single-anthracycline', keptInstead: 'epirubicin' }]);
    expect(result.policy).toMatchObject({
      name: 'llm+refine',
      models: ['fake-vlm', 'fake-r1-0528'],
      promptVersions: { propose: 'propose.v1', refine: 'refine.v1' },
    });
    expect(ruleViolations({ drugs: result.drugs, embolics: result.embolics })).toEqual([]);
  });

  it('refuses a refinement that adds a candidate, re-asks, then fails typed if it persists', async () => {
    const adding = json({ drugs: ['Cisplatin', 'Raltitrexed'], embolics: ['Lipiodol'], removed: [], rationale: '' });
    server.script(json(proposal), adding, adding);
    const error = await new LlmPolicy(config()).propose(request).catch((e: unknown) => e);
    expect(isMewmError(error, 'PolicyOutputInvalid')).toBe(true);
    expect(String(server.requests[2]!.messages.at(-1)!.content)).toContain('you added raltitrexed');
  });

  it('refuses a refinement that empties a phase', async () => {
    server.script(
      json(proposal),
      json({ drugs: [], embolics: ['Lipiodol'], removed: [], rationale: '' }),
      json({ drugs: ['Epirubicin'], embolics: ['Lipiodol'], removed: [], rationale: 'ok' }),
    );
    const result = await new LlmPolicy(config()).propose(request);
    expect(result.drugs).toEqual(['epirubicin']);
    expect(String(server.requests[2]!.messages.at(-1)!.content)).toContain('at least one drug');
  });

  it('never returns a rule-violating candidate set, whatever subset the reasoning model keeps', async () => {
    const rng = new Rng(7);
    for (let i = 0; i < 15; i++) {
      const drugs = rng.shuffle(DRUGS).slice(0, 6);
      const embolics = rng.shuffle(EMBOLICS).slice(0, 4);
      const kept = { drugs: drugs.filter(() => rng.bernoulli(0.7)), embolics: embolics.filter(() => rng.bernoulli(0.7)) };
      if (kept.drugs.length === 0) kept.drugs.push(drugs[0]!);
      if (kept.embolics.length === 0) kept.embolics.push(embolics[0]!);
      server.script(json({ observation: '', drugs, embolics, rationale: 'r' }), json({ ...kept, removed: [], rationale: '' }));
      const result = await new LlmPolicy(config()).propose({ ...request, drugCount: 6, embolicCount: 4 });
      expect(isValidProtocol({ drugs: result.drugs, embolics: result.embolics })).toBe(true);
      expect(result.drugs.length).toBeGreaterThan(0);
      expect(result.embolics.length).toBeGreaterThan(0);
    }
  });
});
