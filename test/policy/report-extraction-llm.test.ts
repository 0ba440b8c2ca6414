import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMewmError } from '../../src/core/errors';
import { llmEndpointConfig } from '../../src/policy/config';
import { createLlmClient } from '../../src/policy/llm-json';
import { extractReport } from '../../src/policy/report-extraction';
import { json, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai';

const REPORT =
  'Oxaliplatin 100 mg and Epirubicin 30 mg were infused through the catheter; 10 mg Epirubicin and 10 ml ultra-liquid Lipiodol were mixed to create an emulsion for embolization; an appropriate amount of Gelatin Sponge particles was used to embolize the tumor-feeding branches; tumor staining disappeared on the final angiography.';

const agreeing = {
  drugs: [
    { name: 'Oxaliplatin', dose: 100, unit: 'mg' },
    { name: 'Epirubicin', dose: 40, unit: 'mg' },
  ],
  embolics: [
    { name: 'ultra-liquid Lipiodol', amount: 10, unit: 'ml' },
    { name: 'gelfoam', amount: null, unit: null },
  ],
  attenuationLevel: 4,
  outcomeText: 'tumor staining disappeared on the final angiography',
};

describe('extractReport with an LLM over HTTP and the rules as cross-check', () => {
  let server: FakeOpenAi;
  beforeAll(async () => {
    server = await startFakeOpenAi();
  });
  afterAll(async () => {
    await server.close();
  });
  const llm = () => {
    const config = llmEndpointConfig({
      baseURL: server.baseURL,
      apiKey: 'k',
      model: 'fake-vlm',
      extractModel: 'fake-extractor',
      maxRetries: 0,
      repairAttempts: 1,
      timeoutMs: 5_000,
    });
    return { client: createLlmClient(config), config };
  };

  it('runs the rules alone offline', async () => {
    const result = await extractReport(REPORT, { caseId: 'case-1' });
    expect(result.llm).toBeUndefined();
    expect(result.flagged).toBe(false);
    expect(result.rules.attenuationLevel).toBe(4);
  });

  it('agrees when both read the same agents, doses and level', async () => {
    server.script(json(agreeing));
    const result = await extractReport(REPORT, { caseId: 'case-1', llm: llm() });
    expect(server.requests[0]!.model).toBe('fake-extractor');
    expect(String(server.requests[0]!.messages[1]!.content)).toContain('Oxaliplatin 100 mg');
    expect(result.llm).toMatchObject({ source: 'llm', attenuationLevel: 4, promptKey: 'extract-report.v2' });
    expect(result.disagreements).toEqual([]);
    expect(result.flagged).toBe(false);
  });

  it('flags disagreements on agents, doses and the attenuation level', async () => {
    server.script(json({ ...agreeing, drugs: [{ name: 'Oxaliplatin', dose: 50, unit: 'mg' }], attenuationLevel: 3 }));
    const result = await extractReport(REPORT, { caseId: 'case-1', llm: llm() });
    expect(result.flagged).toBe(true);
    expect(result.disagreements).toEqual([
      'epirubicin: found by rules only',
      'oxaliplatin: dose 100 mg (rules) vs 50 mg (llm)',
      'attenuation level 4 (rules) vs 3 (llm)',
    ]);
  });

  it('re-asks on an out-of-vocabulary name and fails typed if it persists', async () => {
    const bad = json({ ...agreeing, drugs: [{ name: 'Sorafenib', dose: 400, unit: 'mg' }] });
    server.script(bad, bad);
    const error = await extractReport(REPORT, { caseId: 'case-1', llm: llm() }).catch((e: unknown) => e);
    expect(isMewmError(error, 'PolicyOutputInvalid')).toBe(true);
    expect(server.requests).toHaveLength(2);
  });
});
