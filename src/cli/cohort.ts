/**
 * `mewm cohort <manifest>`: plans every case of a cohort manifest as one durable runCohort
 * workflow (sliding window of plans, continue-as-new per page). Re-running skips patients whose
 * plan already completed; a running cohort with the same id is followed instead of restarted.
 *
 *   mewm cohort <manifest.jsonl | cohort folder> [--cohort-id ID] [--split train|val|test]
 *               [--concurrency N] [--page-size N] [--out FILE] [--detach] [--with-workers] [--config FILE]
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { ArtifactStores, parseArtifactLocation } from '../artifacts';
import { readCohortManifest, writeCohortSource } from '../../activities/case-source';
import { loadConfig } from '../config/load';
import type { ConfigOverrides } from '../config/config';
import { MewmError } from '../core/errors';
import { createLogger } from '../../workers/logging';
import { cohortProgressQuery } from '../../workflows/queries';
import { QUEUE_ROLES, TASK_QUEUES } from '../../workflows/task-queues';
import type { CohortResult } from '../../workflows/types';
import { commandFailed, progressReporter, usageError } from './command-support';
import { openTemporal } from './server';

const USAGE =
  'usage: mewm cohort <manifest.jsonl | cohort folder> [--cohort-id ID] [--split S] [--concurrency N] [--page-size N]\n' +
  '                   [--out FILE] [--detach] [--with-workers] [--config FILE]';

export function cohortWorkflowId(cohortId: string): string {
  return `cohort-${cohortId}`;
}

/**
 * The cohort id when `--cohort-id` is not given: opaque (a folder name may name a hospital or a
 * patient, and the id lands in Temporal and in file names), yet stable for one manifest file and
 * split, so a re-run resumes the same cohort.
 */
export function defaultCohortId(manifest: string, split: string | undefined): string {
  return createHash('sha256').update(`${resolve(manifest)}\n${split ?? ''}`).digest('hex').slice(0, 12);
}

export async function runCohort(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
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
    if (parsed.values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (parsed.positionals.length !== 1) throw new Error('give exactly one manifest');
    for (const flag of ['concurrency', 'page-size'] as const) {
      const v = parsed.values[flag];
      if (v !== undefined && !/^[1-9]\d*$/.test(v)) throw new Error(`--${flag} must be a positive integer`);
    }
  } catch (error) {
    return usageError(USAGE, error);
  }
  const { values, positionals } = parsed;
  try {
    let manifest = resolve(positionals[0]!);
    if (existsSync(manifest) && statSync(manifest).isDirectory()) manifest = join(manifest, 'manifest.jsonl');
    if (!existsSync(manifest)) throw new MewmError('InvalidInput', `no cohort manifest at ${manifest}`);
    const cohortId = values['cohort-id'] ?? defaultCohortId(manifest, values.split);
    if (values['cohort-id'] === undefined) process.stderr.write(`cohort id ${cohortId} (from the manifest path and split; name it with --cohort-id)\n`);
    const cohortDir = dirname(manifest);
    const firstPass = loadConfig(values.config ? { configPath: values.config } : {});
    const overrides: ConfigOverrides = {
      cohort: {
        ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
        ...(values['page-size'] ? { pageSize: Number(values['page-size']) } : {}),
      },
      ...(firstPass.worldModel.backend === 'oracle' && !firstPass.worldModel.oracleCohortDir && existsSync(join(cohortDir, 'truth.jsonl'))
        ? { worldModel: { oracleCohortDir: cohortDir } }
        : {}),
    };
    const config = loadConfig({ ...(values.config ? { configPath: values.config } : {}), overrides });
    const log = createLogger(config.log);
    const embedded = config.temporal.address === null;
    const session = await openTemporal(config, log, { workers: (embedded && !values.detach) || values['with-workers'] ? QUEUE_ROLES : [] });
    const stores = new ArtifactStores(config.artifacts.s3);
    try {
      const workflowId = cohortWorkflowId(cohortId);
      // Paths stay on this side: the workflow gets case ids and case source artifacts only.
      const cases = await readCohortManifest(manifest, values.split);
      const source = await writeCohortSource(stores.forConfig(parseArtifactLocation(config.artifacts.location, config.artifacts.s3)), cohortId, cases);
      let handle;
      try {
        handle = await session.client.workflow.start('runCohort', {
          taskQueue: TASK_QUEUES.cpu,
          workflowId,
          args: [{ cohortId, cases: source, settings: config.planning, concurrency: config.cohort.concurrency, pageSize: config.cohort.pageSize }],
        });
        log.info({ workflowId, cases: cases.length }, 'cohort started');
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        log.info({ workflowId }, 'this cohort is already running: following it');
        handle = session.client.workflow.getHandle(workflowId);
      }
      if (values.detach) {
        process.stdout.write(`cohort ${cohortId} running as workflow ${workflowId}; follow it with: mewm status ${workflowId}\n`);
        return 0;
      }
      const progress = progressReporter(`cohort ${cohortId}`);
      let finished = false;
      const poll = (async () => {
        while (!finished) {
          try {
            const p = await session.client.workflow.getHandle(workflowId).query(cohortProgressQuery);
            const done = p.completed + p.failed + p.skipped;
            progress.update(done, p.total ?? done, `${p.failed} failed, ${p.skipped} skipped, ${p.running.length} running`);
          } catch {
            // between continue-as-new runs: next poll
          }
          await new Promise((r) => setTimeout(r, 1000));
        }
      })();
      // Follows continue-as-new to the final run.
      const result = (await session.client.workflow.getHandle(workflowId).result()) as CohortResult;
      finished = true;
      await poll;
      progress.finish();
      const outcomes: string[] = [];
      for (const ref of result.pages) outcomes.push(new TextDecoder().decode(await stores.storeFor(ref.uri).get(ref)).trimEnd());
      const outFile = resolve(values.out ?? join(config.dataDir, 'cohorts', `${cohortId}.jsonl`));
      await (await import('node:fs/promises')).mkdir(dirname(outFile), { recursive: true });
      await writeFile(outFile, `${outcomes.filter(Boolean).join('\n')}\n`);
      process.stdout.write(
        `cohort ${cohortId}: ${result.completed} planned, ${result.skipped} already done, ${result.failed} failed, of ${result.total}\n` +
          `outcomes (one line per patient): ${outFile}\n`,
      );
      return result.failed > 0 ? 1 : 0;
    } finally {
      stores.close();
      await session.close();
    }
  } catch (error) {
    return commandFailed(error);
  }
}
