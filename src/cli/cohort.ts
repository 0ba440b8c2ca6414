/**
 * `mewm cohort <manifest>`: plans every case of a cohort manifest as one durable runCohort
 * workflow (sliding window of plans, continue-as-new per page). Re-running skips patients whose
 * plan already completed; a running cohort with the same id is followed instead of restarted.
 *
 *   mewm cohort <manifest.jsonl | cohort folder> [--cohort-id ID] [--split train|val|test]
 *               [--concurrency N] [--page-size N] [--out FILE] [--detach] [--with-workers] [--config FILE]
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readCohortManifest } from '../../activities/case-source';
import { manifestPath } from '../app/case-input';
import { defaultCohortId, readCohortOutcomes, startCohort } from '../app/cohort-run';
import { followCohort } from '../app/workflow-client';
import { ArtifactStores, parseArtifactLocation } from '../artifacts';
import { loadConfig } from '../config/load';
import type { ConfigOverrides } from '../config/config';
import { MewmError } from '../core/errors';
import { createLogger } from '../logging/logger';
import { requirementsFromConfig, unservedQueues } from '../../workers/serving';
import { QUEUE_ROLES } from '../../workflows/task-queues';
import { EXIT, runCommand, type Command, type Env, type ExitCode } from './command';
import { progressReporter } from './command-support';
import { openTemporal } from '../app/temporal';

const USAGE =
  'usage: mewm cohort <manifest.jsonl | cohort folder> [--cohort-id ID] [--split S] [--concurrency N] [--page-size N]\n' +
  '                   [--out FILE] [--detach] [--with-workers] [--config FILE]';

interface CohortArguments {
  readonly manifest: string;
  readonly cohortId?: string;
  readonly split?: string;
  readonly concurrency?: number;
  readonly pageSize?: number;
  readonly out?: string;
  readonly detach: boolean;
  readonly withWorkers: boolean;
  readonly configPath?: string;
}

function parseCohortArguments(argv: readonly string[]): CohortArguments {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      'cohort-id': { type: 'string' },
      split: { type: 'string' },
      concurrency: { type: 'string' },
      'page-size': { type: 'string' },
      out: { type: 'string' },
      detach: { type: 'boolean' },
      'with-workers': { type: 'boolean' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (positionals.length !== 1) throw new Error('give exactly one manifest');
  for (const flag of ['concurrency', 'page-size'] as const) {
    const v = values[flag];
    if (v !== undefined && !/^[1-9]\d*$/.test(v)) throw new Error(`--${flag} must be a positive integer`);
  }
  return {
    manifest: positionals[0]!,
    detach: values.detach === true,
    withWorkers: values['with-workers'] === true,
    ...(values['cohort-id'] !== undefined ? { cohortId: values['cohort-id'] } : {}),
    ...(values.split !== undefined ? { split: values.split } : {}),
    ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
    ...(values['page-size'] ? { pageSize: Number(values['page-size']) } : {}),
    ...(values.out !== undefined ? { out: values.out } : {}),
    ...(values.config ? { configPath: values.config } : {}),
  };
}

async function cohort(args: CohortArguments, env: Env): Promise<ExitCode> {
  const manifest = manifestPath(args.manifest);
  // Paths stay on this side: the workflow gets case ids and case source artifacts only.
  const cases = await readCohortManifest(manifest, args.split);
  if (cases.length === 0)
    throw new MewmError('InvalidInput', args.split === undefined ? 'the cohort manifest lists no cases' : `the cohort manifest has no ${args.split} cases`);
  const cohortId = args.cohortId ?? defaultCohortId(manifest, args.split);
  if (args.cohortId === undefined) process.stderr.write(`cohort id ${cohortId} (from the manifest path and split; name it with --cohort-id)\n`);
  const cohortDir = dirname(manifest);
  const source = { env, ...(args.configPath ? { configPath: args.configPath } : {}) };
  const firstPass = loadConfig(source);
  const overrides: ConfigOverrides = {
    cohort: {
      ...(args.concurrency ? { concurrency: args.concurrency } : {}),
      ...(args.pageSize ? { pageSize: args.pageSize } : {}),
    },
    ...(firstPass.worldModel.backend === 'oracle' && !firstPass.worldModel.oracleCohortDir && existsSync(join(cohortDir, 'truth.jsonl'))
      ? { worldModel: { oracleCohortDir: cohortDir } }
      : {}),
  };
  const config = loadConfig({ ...source, overrides });
  const log = createLogger(config.log);
  const embedded = config.temporal.address === null;
  const session = await openTemporal(config, log, { workers: (embedded && !args.detach) || args.withWorkers ? QUEUE_ROLES : [] });
  const stores = new ArtifactStores(config.artifacts.s3, {}, config.artifacts);
  try {
    const store = stores.forConfig(parseArtifactLocation(config.artifacts.location, config.artifacts.s3));
    // What every plan asks for travels with the cohort; only workers serving exactly that plan it (src/core/serving.ts).
    const requirements = await requirementsFromConfig(config);
    const { workflowId } = await startCohort(
      session.client,
      store,
      { cohortId, cases, settings: config.planning, concurrency: config.cohort.concurrency, pageSize: config.cohort.pageSize, requirements },
      log,
    );
    if (!embedded && !args.withWorkers)
      for (const note of await unservedQueues(session.client, config.temporal.namespace, requirements)) process.stderr.write(`note: ${note}\n`);
    if (args.detach) {
      process.stdout.write(`cohort ${cohortId} running as workflow ${workflowId}; follow it with: mewm status ${workflowId}\n`);
      // The server and workers this command started stop with it: the cohort waits for others.
      if (session.startedServer || args.withWorkers) {
        process.stderr.write(
          `note: ${session.startedServer ? 'the embedded Temporal server' : 'the workers'} started by this command stop${session.startedServer ? 's' : ''} when it exits; ` +
            'the cohort goes on once `mewm server` and `mewm worker --queue all` run (or `mewm cohort` again without --detach)\n',
        );
      }
      return EXIT.ok;
    }
    const progress = progressReporter(`cohort ${cohortId}`);
    let result;
    try {
      result = await followCohort(session.client, workflowId, (p) => {
        const done = p.completed + p.failed + p.skipped;
        progress.update(done, p.total ?? done, `${p.failed} failed, ${p.skipped} skipped, ${p.running.length} running`);
      });
    } finally {
      progress.finish();
    }
    // Manifest order, not completion order: a re-run writes the same file.
    const order = new Map(cases.map((c, i) => [c.caseId, i]));
    const outcomes = (await readCohortOutcomes(stores, result)).sort((a, b) => (order.get(a.caseId) ?? Infinity) - (order.get(b.caseId) ?? Infinity));
    const outFile = resolve(args.out ?? join(config.dataDir, 'cohorts', `${cohortId}.jsonl`));
    await mkdir(dirname(outFile), { recursive: true });
    await writeFile(outFile, outcomes.map((o) => `${JSON.stringify(o)}\n`).join(''));
    process.stdout.write(
      `cohort ${cohortId}: ${result.completed} planned, ${result.skipped} already done, ${result.failed} failed, of ${result.total}\n` +
        `outcomes (one line per patient): ${outFile}\n`,
    );
    return result.failed > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    stores.close();
    await session.close();
  }
}

export const cohortCommand: Command<CohortArguments> = { name: 'cohort', usage: USAGE, parse: parseCohortArguments, run: (args, { env }) => cohort(args, env) };

export function runCohort(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(cohortCommand, argv, env);
}
