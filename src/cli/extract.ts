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
 * endpoint) stops the run. Exit 0 all done, 1 some LLM extractions failed, 2 bad input or configuration.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { isMewmError, MewmError, toMewmError } from '../core/errors';
import { policyConfigFromEnv } from '../policy/config';
import { createLlmClient } from '../policy/llm-json';
import { extractReport, extractReportByRules, type ExtractOptions, type ReportExtractionResult } from '../policy/report-extraction';
import { usageError } from './command-support';

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
        if (v !== 'train' && v !== 'val' && v !== 'test' && v !== 'all') throw new MewmError('InvalidInput', `--split must be train, val, test or all, got "${v}"`);
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

const manifestRow = z.object({ caseId: z.string().min(1), split: z.enum(['train', 'val', 'test']), report: z.string().min(1) });

export async function runExtract(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let args: ExtractArguments;
  let llm: ExtractOptions['llm'];
  try {
    args = parseExtractArguments(argv);
    const config = policyConfigFromEnv(args.policy === 'auto' ? env : { ...env, MEWM_POLICY: args.policy });
    llm = config.llm ? { client: createLlmClient(config.llm), config: config.llm } : undefined;
  } catch (error) {
    return usageError(USAGE, error, 'extract');
  }
  process.stderr.write(`mewm extract: ${llm ? `rules + LLM cross-check (${llm.config.extractModel})` : 'rules only [no LLM endpoint configured]'}\n`);
  try {
    if (args.reportFile) {
      const text = await readFile(args.reportFile, 'utf8');
      process.stdout.write(`${JSON.stringify(await extractReport(text.trim(), { caseId: 'report', ...(llm ? { llm } : {}) }), null, 2)}\n`);
      return 0;
    }
    const manifest = (await readFile(join(args.cohortDir!, 'manifest.jsonl'), 'utf8'))
      .split('\n')
      .filter((l) => l.trim().length > 0)
      .map((l, i) => {
        const parsed = manifestRow.safeParse(JSON.parse(l));
        if (!parsed.success) throw new MewmError('InvalidInput', `manifest.jsonl line ${i + 1} lacks caseId, split or report`, { line: i + 1 });
        return parsed.data;
      })
      .filter((r) => args.split === 'all' || r.split === args.split)
      .slice(0, args.limit);
    const lines: string[] = [];
    let flagged = 0;
    let llmFailed = 0;
    for (const row of manifest) {
      const text = (await readFile(join(args.cohortDir!, row.report), 'utf8')).trim();
      let result: ReportExtractionResult & { llmError?: { code: string; message: string } };
      try {
        result = await extractReport(text, { caseId: row.caseId, ...(llm ? { llm } : {}) });
      } catch (error) {
        // A configuration error would fail every case the same way: stop and say so.
        if (isMewmError(error, 'InvalidConfig')) throw error;
        const e = toMewmError(error);
        llmFailed++;
        process.stderr.write(`${row.caseId}: LLM extraction failed: ${e.code}: ${e.message}\n`);
        result = { rules: extractReportByRules(text), flagged: true, disagreements: [`LLM extraction failed (${e.code})`], llmError: { code: e.code, message: e.message } };
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
    return llmFailed > 0 ? 1 : 0;
  } catch (error) {
    const e = toMewmError(error);
    process.stderr.write(`mewm extract: ${e.code}: ${e.message}\n`);
    return e.retryable ? 1 : 2;
  }
}
