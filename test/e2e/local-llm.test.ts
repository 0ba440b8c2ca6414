/**
 * Every LLM path a user runs, against a real model: the pinned local LLM (infra/llm, SmolLM2-135M
 * behind llama-cpp-python's OpenAI-compatible server) on loopback, through the `mewm` command.
 * The assertions are what must hold whatever the model says — a valid protocol or a typed, clear
 * failure; audit records with the prompt version, the model id and the raw answer; every agent
 * in the vocabulary; the key nowhere — never the model's clinical taste.
 *
 * Runs in CI (.ci/run installs the model). Elsewhere, without `bash infra/llm/install.sh`, the
 * suite skips with a loud reason on stderr.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRUGS, EMBOLICS, isValidProtocol, type Protocol } from '../../src/core/vocabulary';
import { parseJsonAnswer } from '../../src/policy/llm-json';
import { cliTestEnv, type CliResult } from '../support/cli';
import { runMewmAsync } from '../support/cli-async';
import { realModelAvailable, startLocalLlm, type RunningLocalLlm } from '../support/local-llm';
import { tempDir } from '../support/temporal';

const FAKE_KEY = 'sk-mewm-FAKE-local-5e8d2c7a9b1f4e6d3a0c';
const PATIENTS = 2;
/** The typed failures a model may legitimately cause; anything else (Internal, a crash) is a bug. */
const MODEL_FAILURES = /PolicyOutputInvalid|LlmUnavailable/;

const available = realModelAvailable('test/e2e/local-llm.test.ts (real-model end-to-end tests)');

let llm: RunningLocalLlm;
let dir: string;
let env: Record<string, string>;
const run = (args: string[], extra: Record<string, string> = {}, timeoutMs = 400_000): Promise<CliResult> =>
  runMewmAsync(dir, { ...env, ...extra }, args, timeoutMs);
const jsonLines = (file: string): Record<string, unknown>[] =>
  readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const vocabulary = new Set<string>([...DRUGS, ...EMBOLICS]);

function expectExchange(exchange: unknown, purpose: string, promptVersion: string): void {
  expect(exchange).toMatchObject({ purpose, model: llm.model, promptVersion, outputMode: 'json_object_schema' });
  const e = exchange as { attempts: number; rawAnswer: string };
  expect(e.attempts).toBeGreaterThanOrEqual(1);
  expect(e.attempts).toBeLessThanOrEqual(3); // 1 + MEWM_POLICY_REPAIR_ATTEMPTS (2)
  expect(parseJsonAnswer(e.rawAnswer).ok, e.rawAnswer).toBe(true);
}

function expectNoKey(where: string, text: string): void {
  expect(text.includes(FAKE_KEY), `${where} holds the key`).toBe(false);
}

describe.skipIf(!available)('the LLM paths against the real local model', () => {
  beforeAll(async () => {
    llm = await startLocalLlm({ threads: 1 });
    dir = tempDir('local-llm');
    env = await cliTestEnv(dir, {
      OPENAI_BASE_URL: llm.baseURL,
      OPENAI_API_KEY: FAKE_KEY,
      MEWM_POLICY_MODEL: llm.model,
      MEWM_POLICY_IMAGES: '0',
      MEWM_POLICY_MAX_TOKENS: '512',
      MEWM_POLICY_TIMEOUT_MS: '120000',
      MEWM_WORLD_MODEL: 'oracle',
      MEWM_ORACLE_COHORT: join(dir, 'demo'),
    });
    const synth = await run(['synth', '--patients', String(PATIENTS), '--seed', '3', '--out', 'demo', '--size', 'small']);
    expect(synth.code, synth.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await llm?.stop();
  });

  it(
    'mewm plan with the LLM policy through Temporal: a valid protocol from its candidates with the exchange recorded, or a typed failure',
    { timeout: 400_000 },
    async () => {
      const plan = await run(['plan', join('demo', 'cases', 'SYN-3-0001'), '--out', 'plan-llm'], { MEWM_POLICY: 'llm' });
      expectNoKey('plan stderr', plan.stderr + plan.stdout);
      if (plan.code !== 0) {
        expect(plan.stderr, 'a failed LLM plan must say which typed failure').toMatch(MODEL_FAILURES);
        return;
      }
      const result = JSON.parse(readFileSync(join(dir, 'plan-llm', 'plan.json'), 'utf8')) as {
        protocol: Protocol;
        proposal: {
          drugs: string[];
          embolics: string[];
          policy: { name: string; models: string[]; promptVersions: Record<string, string> };
          exchanges: unknown[];
        };
      };
      expect(result.proposal.policy).toMatchObject({ name: 'llm', models: [llm.model], promptVersions: { propose: 'propose.v1' } });
      expect(result.proposal.drugs.length).toBeGreaterThan(0);
      expect(result.proposal.embolics.length).toBeGreaterThan(0);
      expect(isValidProtocol(result.protocol)).toBe(true);
      for (const agent of [...result.protocol.drugs, ...result.protocol.embolics]) {
        // The plan explores the policy's candidates (plus Lipiodol, which the paper's rule appends).
        expect([...result.proposal.drugs, ...result.proposal.embolics, 'lipiodol']).toContain(agent);
      }
      expect(result.proposal.exchanges).toHaveLength(1);
      expectExchange(result.proposal.exchanges[0], 'propose', 'propose.v1');
      expect(plan.stdout).toMatch(/llm policy/);
      for (const file of ['plan.json', 'audit.json', 'audit.csv']) expectNoKey(file, readFileSync(join(dir, 'plan-llm', file), 'utf8'));
    },
  );

  it(
    'mewm extract: rules and the LLM on every report, agents in the vocabulary, disagreements flagged, failures typed per case',
    { timeout: 300_000 },
    async () => {
      const extract = await run(['extract', '--cohort', 'demo', '--out', 'extract.jsonl']);
      expect([0, 1], extract.stderr).toContain(extract.code);
      expect(extract.stderr).toMatch(/rules \+ LLM cross-check/);
      const lines = jsonLines('extract.jsonl');
      expect(lines).toHaveLength(PATIENTS);
      for (const line of lines) {
        expect(line.rules).toMatchObject({ source: 'rules' });
        if (line.llmError) {
          expect((line.llmError as { code: string }).code).toMatch(MODEL_FAILURES);
          expect(line.flagged).toBe(true);
          continue;
        }
        const e = line.llm as {
          source: string;
          promptKey: string;
          drugs: { agent: string }[];
          embolics: { agent: string }[];
          attenuationLevel?: number;
          exchange: unknown;
        };
        expect(e).toMatchObject({ source: 'llm', promptKey: 'extract-report.v2', model: llm.model });
        for (const a of [...e.drugs, ...e.embolics]) expect(vocabulary.has(a.agent), a.agent).toBe(true);
        if (e.attenuationLevel !== undefined) expect([1, 2, 3, 4]).toContain(e.attenuationLevel);
        expectExchange(e.exchange, 'extract', 'extract-report.v2');
        expect(line.flagged).toBe((line.disagreements as string[]).length > 0);
      }
      expect(extract.code === 1).toBe(lines.some((l) => l.llmError));
    },
  );

  it('mewm baseline: one valid protocol per case with its exchange, or a typed error for that case', { timeout: 300_000 }, async () => {
    const baseline = await run(['baseline', '--cohort', 'demo', '--split', 'all', '--out', 'baseline.jsonl']);
    expect([0, 1], baseline.stderr).toContain(baseline.code);
    expect(baseline.stderr).toContain(`baseline: llm llm-protocol-baseline-1 (${llm.model}`);
    const lines = jsonLines('baseline.jsonl');
    expect(lines).toHaveLength(PATIENTS);
    for (const line of lines) {
      if (line.error) {
        expect((line.error as { code: string }).code).toMatch(MODEL_FAILURES);
        continue;
      }
      expect(isValidProtocol(line.protocol as Protocol)).toBe(true);
      expect(line.baseline).toMatchObject({ name: 'llm', models: [llm.model], promptVersions: { baseline: 'protocol-baseline.v1' } });
      expectExchange(line.exchange, 'baseline', 'protocol-baseline.v1');
    }
    expectNoKey('baseline.jsonl', readFileSync(join(dir, 'baseline.jsonl'), 'utf8'));
  });

  it(
    'a small mewm evaluate with the llm-only and mewm-llm rows: both rows are asked of the real model and scored or counted as failed',
    { timeout: 600_000 },
    async () => {
      const out = 'evaluation';
      const evaluate = await run(
        [
          'evaluate',
          '--cohort',
          'demo',
          '--split',
          'all',
          '--seed',
          '1',
          '--resamples',
          '20',
          '--realism-replicas',
          '0',
          '--methods',
          'optimal,llm-only,mewm-llm',
          '--out',
          out,
        ],
        {},
        600_000,
      );
      expectNoKey('evaluate stderr', evaluate.stderr + evaluate.stdout);
      expect(evaluate.code, evaluate.stderr.slice(-3_000)).toBe(0);
      const summary = JSON.parse(readFileSync(join(dir, out, 'summary.json'), 'utf8')) as {
        outcome: { method: string; scored: number; failed: number }[];
        skipped: string[];
      };
      expect(summary.skipped.join('\n')).not.toMatch(/llm/);
      for (const method of ['llm-only', 'mewm-llm']) {
        const row = summary.outcome.find((r) => r.method === method);
        expect(row, `${method} row`).toBeDefined();
        expect(row!.scored + row!.failed, method).toBe(PATIENTS);
      }
      expect(existsSync(join(dir, out, 'tables', 'outcome.csv'))).toBe(true);
    },
  );
});
