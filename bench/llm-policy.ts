/**
 * The LLM policy against a real model: how often the first answer is valid, how many re-asks it
 * needs, how often names fall outside the vocabulary, and the seconds per proposal — with
 * schema-constrained output (`auto`, which settles on the endpoint's dialect) and without (`none`).
 *
 *   node --import tsx bench/llm-policy.ts [--cases 50] [--seed 1] [--modes auto,none]
 *        [--repair-attempts 2] [--base-url URL --model NAME] [--out FILE]
 *
 * Cases: synthetic patients of the world (`generatePatientTruth(seed, i)`), rendered on the small
 * grid, observed as the planner does (`observeTumour`), proposed for D = 3 drugs, E = 2 embolics,
 * text only, answers capped at 512 tokens (as infra/llm/serve.sh advises). Without --base-url it
 * starts the pinned local model (infra/llm) on loopback.
 * Prints one JSON summary per mode (and writes them to --out).
 */
import { writeFile } from 'node:fs/promises';
import { isMewmError } from '../src/core/errors';
import { isValidProtocol } from '../src/core/vocabulary';
import { llmEndpointConfig, type OutputMode } from '../src/policy/config';
import { LlmPolicy } from '../src/policy/llm-policy';
import { observeTumour } from '../src/policy/observation';
import type { TumourObservation } from '../src/policy/policy';
import { generatePatientTruth } from '../src/world/cohort';
import { GRID_PRESETS, renderPhantom } from '../src/world/phantom';
import { startLocalLlm } from '../test/support/local-llm';

const GOAL = 'What TACE treatment protocols are recommended for a patient diagnosed with hepatocellular carcinoma (HCC) given the pre-treatment CT?';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

type ProblemKind = 'not-json' | 'shape' | 'vocabulary';
function kindOf(problem: string): ProblemKind {
  if (/not valid JSON|answer was empty|model refused/.test(problem)) return 'not-json';
  if (/does not match the format/.test(problem)) return 'shape';
  return 'vocabulary';
}

interface CaseResult {
  readonly ok: boolean;
  readonly attempts: number;
  readonly problems: readonly string[];
  readonly seconds: number;
  readonly outputMode?: string;
  readonly code?: string;
}

function summarise(mode: string, results: readonly CaseResult[], model: string, repairAttempts: number) {
  const n = results.length;
  const ok = results.filter((r) => r.ok);
  const problems = results.flatMap((r) => r.problems.map(kindOf));
  const count = (k: ProblemKind) => problems.filter((p) => p === k).length;
  const seconds = results.map((r) => r.seconds).sort((a, b) => a - b);
  const mean = seconds.reduce((s, x) => s + x, 0) / n;
  return {
    mode,
    outputModeUsed: [...new Set(results.map((r) => r.outputMode).filter(Boolean))],
    model,
    cases: n,
    repairAttempts,
    validFirstTime: results.filter((r) => r.ok && r.attempts === 1).length,
    validAfterRepair: results.filter((r) => r.ok && r.attempts > 1).length,
    failedTyped: results.filter((r) => !r.ok).length,
    failureCodes: Object.fromEntries([...new Set(results.filter((r) => !r.ok).map((r) => r.code))].map((c) => [c, results.filter((r) => r.code === c).length])),
    reasks: results.reduce((s, r) => s + Math.max(0, r.attempts - 1), 0),
    invalidAnswers: { total: problems.length, notJson: count('not-json'), shape: count('shape'), vocabulary: count('vocabulary') },
    casesWithVocabularyFailure: results.filter((r) => r.problems.some((p) => kindOf(p) === 'vocabulary')).length,
    secondsPerProposal: { mean: +mean.toFixed(2), median: +seconds[Math.floor(n / 2)]!.toFixed(2), max: +seconds[n - 1]!.toFixed(2) },
    validProposals: ok.length,
  };
}

async function main(): Promise<void> {
  const cases = Number(option('cases', '50'));
  const seed = Number(option('seed', '1'));
  const modes = option('modes', 'auto,none').split(',') as OutputMode[];
  const repairAttempts = Number(option('repair-attempts', '2'));
  const outFile = option('out', '');
  let baseURL = option('base-url', '');
  let model = option('model', '');
  let stop = async () => {};
  if (!baseURL) {
    const local = await startLocalLlm();
    baseURL = local.baseURL;
    model = local.model;
    stop = local.stop;
  }
  try {
    process.stderr.write(`observing ${cases} synthetic patients (seed ${seed}, small grid)…\n`);
    const observations: { caseId: string; observation: TumourObservation }[] = [];
    for (let i = 1; i <= cases; i++) {
      const truth = generatePatientTruth(seed, i);
      const pre = renderPhantom(truth.phenotype, GRID_PRESETS.small);
      observations.push({ caseId: truth.phenotype.caseId, observation: observeTumour(pre, { caseId: truth.phenotype.caseId }) });
    }
    const summaries = [];
    for (const mode of modes) {
      const policy = new LlmPolicy(
        llmEndpointConfig({ baseURL, apiKey: 'no-key', model, outputMode: mode, sendImages: false, repairAttempts, maxRetries: 1, timeoutMs: 120_000, maxTokens: 512 }),
      );
      const results: CaseResult[] = [];
      for (const { caseId, observation } of observations) {
        const started = performance.now();
        try {
          const proposal = await policy.propose({ caseId, observation, goal: GOAL, drugCount: 3, embolicCount: 2 });
          const exchange = proposal.exchanges![0]!;
          if (
            proposal.drugs.length === 0 ||
            proposal.embolics.length === 0 ||
            !isValidProtocol({ drugs: proposal.drugs.slice(0, 1), embolics: proposal.embolics.slice(0, 1) })
          ) {
            throw new Error(`invalid proposal returned for ${caseId}`); // never expected: the policy guarantees non-empty, rule-valid sets
          }
          results.push({
            ok: true,
            attempts: exchange.attempts,
            problems: exchange.problems,
            seconds: (performance.now() - started) / 1000,
            outputMode: exchange.outputMode,
          });
        } catch (error) {
          if (!isMewmError(error)) throw error;
          const problems = Array.isArray(error.details.problems) ? (error.details.problems as string[]) : [];
          results.push({ ok: false, attempts: problems.length, problems, seconds: (performance.now() - started) / 1000, code: error.code });
        }
        process.stderr.write(
          `${mode} ${caseId}: ${results.at(-1)!.ok ? `ok after ${results.at(-1)!.attempts}` : `failed ${results.at(-1)!.code}`} (${results.at(-1)!.seconds.toFixed(1)} s)\n`,
        );
      }
      const summary = summarise(mode, results, model, repairAttempts);
      summaries.push(summary);
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    }
    if (outFile) await writeFile(outFile, `${JSON.stringify({ command: process.argv.slice(1).join(' '), seed, summaries }, null, 2)}\n`);
  } finally {
    await stop();
  }
}

await main();
