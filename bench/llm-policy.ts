/**
 * The LLM policy against a real model: how often the first answer is valid, how many re-asks it
 * needs, how often names fall outside the vocabulary, and the seconds per proposal — with
 * schema-constrained output (`auto`, which settles on the endpoint's dialect) and without (`none`).
 *
 *   node --import tsx bench/llm-policy.ts [--cases 50] [--seed 1] [--modes auto,none]
 *        [--repair-attempts 2] [--timeout-s 120] [--max-retries 0] [--threads 1]
 *        [--base-url URL --model NAME] [--out FILE] [--cases-out FILE]
 *
 * Cases: synthetic patients of the world (`generatePatientTruth(seed, i)`), rendered on the small
 * grid, observed as the planner does (`observeTumour`), proposed for D = 3 drugs, E = 2 embolics,
 * text only, answers capped at 512 tokens (as infra/llm/serve.sh advises). Without --base-url it
 * starts the pinned local model (infra/llm) on loopback with --threads threads.
 * Time per case is bounded: at most (1 + repair attempts) answers, each request cut at --timeout-s
 * and retried at most --max-retries times, so a case that fails through the whole repair loop
 * costs at most (1 + repair) × (1 + retries) × timeout (and each answer ≤ 512 tokens).
 * The 1-minute load average is sampled every 5 s during each mode and summarised with it.
 * Prints one JSON summary per mode (and writes them to --out); --cases-out appends one JSON line
 * per case as it finishes (mode, case, outcome, problems, seconds, load), so a stopped run keeps
 * what it measured.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
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

interface RunLimits {
  readonly repairAttempts: number;
  readonly timeoutSeconds: number;
  readonly maxRetries: number;
}

function summarise(mode: string, results: readonly CaseResult[], model: string, limits: RunLimits, load: readonly number[], wallSeconds: number) {
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
    repairAttempts: limits.repairAttempts,
    caseBoundSeconds: (1 + limits.repairAttempts) * (1 + limits.maxRetries) * limits.timeoutSeconds,
    validFirstTime: results.filter((r) => r.ok && r.attempts === 1).length,
    validAfterRepair: results.filter((r) => r.ok && r.attempts > 1).length,
    failedTyped: results.filter((r) => !r.ok).length,
    failureCodes: Object.fromEntries([...new Set(results.filter((r) => !r.ok).map((r) => r.code))].map((c) => [c, results.filter((r) => r.code === c).length])),
    reasks: results.reduce((s, r) => s + Math.max(0, r.attempts - 1), 0),
    invalidAnswers: { total: problems.length, notJson: count('not-json'), shape: count('shape'), vocabulary: count('vocabulary') },
    casesWithVocabularyFailure: results.filter((r) => r.problems.some((p) => kindOf(p) === 'vocabulary')).length,
    secondsPerProposal: { mean: +mean.toFixed(2), median: +seconds[Math.floor(n / 2)]!.toFixed(2), max: +seconds[n - 1]!.toFixed(2) },
    validProposals: ok.length,
    wallSeconds: +wallSeconds.toFixed(1),
    load1: {
      mean: +(load.reduce((a, x) => a + x, 0) / Math.max(1, load.length)).toFixed(2),
      min: +Math.min(...load).toFixed(2),
      max: +Math.max(...load).toFixed(2),
      samples: load.length,
      cores: cpus().length,
    },
  };
}

async function main(): Promise<void> {
  const cases = Number(option('cases', '50'));
  const seed = Number(option('seed', '1'));
  const modes = option('modes', 'auto,none').split(',') as OutputMode[];
  const repairAttempts = Number(option('repair-attempts', '2'));
  const timeoutSeconds = Number(option('timeout-s', '120'));
  const maxRetries = Number(option('max-retries', '0'));
  const threads = Number(option('threads', '1'));
  const outFile = option('out', '');
  const casesOutFile = option('cases-out', '');
  let baseURL = option('base-url', '');
  let model = option('model', '');
  let stop = async () => {};
  const ownServer = !baseURL;
  if (ownServer) {
    const local = await startLocalLlm({ threads });
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
        llmEndpointConfig({
          baseURL,
          apiKey: 'no-key',
          model,
          outputMode: mode,
          sendImages: false,
          repairAttempts,
          maxRetries,
          timeoutMs: timeoutSeconds * 1000,
          maxTokens: 512,
        }),
      );
      const results: CaseResult[] = [];
      const load: number[] = [loadavg()[0]!];
      const sampler = setInterval(() => load.push(loadavg()[0]!), 5_000);
      const modeStarted = performance.now();
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
        if (casesOutFile) await appendFile(casesOutFile, `${JSON.stringify({ mode, caseId, ...results.at(-1)!, load1: loadavg()[0] })}\n`);
        process.stderr.write(
          `${mode} ${caseId}: ${results.at(-1)!.ok ? `ok after ${results.at(-1)!.attempts}` : `failed ${results.at(-1)!.code}`} (${results.at(-1)!.seconds.toFixed(1)} s, load ${loadavg()[0]!.toFixed(2)})\n`,
        );
      }
      clearInterval(sampler);
      load.push(loadavg()[0]!);
      const summary = summarise(mode, results, model, { repairAttempts, timeoutSeconds, maxRetries }, load, (performance.now() - modeStarted) / 1000);
      summaries.push(summary);
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    }
    if (outFile)
      await writeFile(
        outFile,
        `${JSON.stringify({ command: process.argv.slice(1).join(' '), seed, serverThreads: ownServer ? threads : 'external', summaries }, null, 2)}\n`,
      );
  } finally {
    await stop();
  }
}

await main();
