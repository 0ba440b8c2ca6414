/**
 * `mewm extract`: structured actions and attenuation levels from TACE procedure reports.
 *
 *   mewm extract --cohort DIR --out FILE [--split train|val|test|all] [--limit N] [--policy auto|guideline|llm]
 *   mewm extract --report FILE.txt
 *
 * Runs the rule-based extractor always and the LLM extractor when an endpoint is configured
 * (docs/policy.md); writes one JSON line per case `{ caseId, split, rules, llm?, flagged,
 * disagreements }`, or prints one extraction for `--report`. `--policy guideline` forces rules only.
 * A case whose LLM extraction fails keeps its rule extraction, is flagged, and carries
 * `llmError: { code, message }`; the other cases go on. A configuration error (bad key, model or
 * endpoint) stops the run. Exit codes: src/cli/command.ts (1 when some LLM extractions failed).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { isMewmError, MewmError, toMewmError } from '../core/errors';
import { readSyntheticManifest } from '../io/cohort-manifest';
import { loadConfig } from '../config/load';
import { createLlmClient } from '../policy/llm-json';
import { extractReport, extractReportByRules, type ExtractOptions, type ReportExtractionResult } from '../policy/report-extraction';
import { EXIT, runCommand, type Command, type Env, type ExitCode } from './command';

const USAGE =
  'usage: mewm extract --cohort DIR --out FILE [--split train|val|test|all] [--limit N] [--policy auto|guideline|llm]\n       mewm extract --report FILE.txt [--policy auto|guideline|llm]';

interface ExtractArguments {
  readonly cohortDir?: string;
  readonly outFile?: string;
  readonly reportFile?: string;
  readonly split: 'train' | 'val' | 'test' | 'all';
  readonly limit?: number;
  readonly policy: 'auto' | 'guideline' | 'llm';
}

export function parseExtractArguments(argv: readonly string[]): ExtractArguments {
  const args: { -readonly [K in keyof ExtractArguments]: ExtractArguments[K] } = { split: 'all', policy: 'auto' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new MewmError('InvalidInput', `${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--cohort':
        args.cohortDir = value();
        break;
      case '--out':
        args.outFile = value();
        break;
      case '--report':
        args.reportFile = value();
        break;
      case '--split': {
        const v = value();
        if (v !== 'train' && v !== 'val' && v !== 'test' && v !== 'all')
          throw new MewmError('InvalidInput', `--split must be train, val, test or all, got "${v}"`);
        args.split = v;
        break;
      }
      case '--limit': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) < 1) throw new MewmError('InvalidInput', `--limit must be a positive integer, got "${v}"`);
        args.limit = Number(v);
        break;
      }
      case '--policy': {
        const v = value();
        if (v !== 'auto' && v !== 'guideline' && v !== 'llm') throw new MewmError('InvalidInput', `--policy must be auto, guideline or llm, got "${v}"`);
        args.policy = v;
        break;
      }
      default:
        throw new MewmError('InvalidInput', `unknown argument "${flag}"`);
    }
  }
  if (!args.reportFile && !(args.cohortDir && args.outFile)) throw new MewmError('InvalidInput', 'give --report FILE, or --cohort DIR and --out FILE');
  return args;
}

/** Runs the command: 0 all done, 1 some LLM extractions failed (each flagged in FILE); a configuration error stops the run. */
async function extract(args: ExtractArguments, env: Env): Promise<ExitCode> {
  // --policy stands for MEWM_POLICY.
  const { policy } = loadConfig({ env: args.policy === 'auto' ? env : { ...env, MEWM_POLICY: args.policy } });
  const llm: ExtractOptions['llm'] = policy.llm ? { client: createLlmClient(policy.llm), config: policy.llm } : undefined;
  process.stderr.write(`mewm extract: ${llm ? `rules + LLM cross-check (${llm.config.extractModel})` : 'rules only [no LLM endpoint configured]'}\n`);
  if (args.reportFile) {
    const text = await readReport(args.reportFile, 'the --report file');
    process.stdout.write(`${JSON.stringify(await extractReport(text, { caseId: 'report', ...(llm ? { llm } : {}) }), null, 2)}\n`);
    return EXIT.ok;
  }
  const manifest = (await readSyntheticManifest(args.cohortDir!, ['split', 'report']))
    .filter((r) => args.split === 'all' || r.split === args.split)
    .slice(0, args.limit);
  const lines: string[] = [];
  let flagged = 0;
  let llmFailed = 0;
  for (const row of manifest) {
    const text = await readReport(join(args.cohortDir!, row.report), `case ${row.caseId} report`);
    let result: ReportExtractionResult & { llmError?: { code: string; message: string } };
    try {
      result = await extractReport(text, { caseId: row.caseId, ...(llm ? { llm } : {}) });
    } catch (error) {
      // A configuration error would fail every case the same way: stop and say so.
      if (isMewmError(error, 'InvalidConfig')) throw error;
      const e = toMewmError(error);
      llmFailed++;
      process.stderr.write(`${row.caseId}: LLM extraction failed: ${e.code}: ${e.message}\n`);
      result = {
        rules: extractReportByRules(text),
        flagged: true,
        disagreements: [`LLM extraction failed (${e.code})`],
        llmError: { code: e.code, message: e.message },
      };
    }
    if (result.flagged) flagged++;
    lines.push(JSON.stringify({ caseId: row.caseId, split: row.split, ...result }));
  }
  const out = resolve(args.outFile!);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, lines.length > 0 ? `${lines.join('\n')}\n` : '');
  process.stderr.write(
    `mewm extract: ${manifest.length} report(s), ${flagged} flagged for disagreement${llmFailed > 0 ? ` (${llmFailed} whose LLM extraction failed)` : ''} → ${args.outFile}\n`,
  );
  return llmFailed > 0 ? EXIT.failed : EXIT.ok;
}

/** A report's text; the file is named by its role in errors, never by its path. */
async function readReport(file: string, role: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    throw new MewmError('InvalidInput', `cannot read ${role} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`, { file: role });
  }
}

export const extractCommand: Command<ExtractArguments> = {
  name: 'extract',
  usage: USAGE,
  parse: parseExtractArguments,
  run: (args, { env }) => extract(args, env),
};

export function runExtract(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(extractCommand, argv, env);
}
