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
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ArtifactStores, parseArtifactLocation } from '../artifacts';
import { readCohortManifest } from '../../activities/case-source';
import { loadConfig } from '../config/load';
import type { ConfigOverrides } from '../config/config';
import { MewmError } from '../core/errors';
import { createLogger } from '../../workers/logging';
import { QUEUE_ROLES } from '../../workflows/task-queues';
import { awaitCohort, readCohortOutcomes, startCohort } from './cohort-runner';
import { commandFailed, usageError } from './command-support';
import { openTemporal } from './server';

const USAGE =
  'usage: mewm cohort <manifest.jsonl | cohort folder> [--cohort-id ID] [--split S] [--concurrency N] [--page-size N]\n' +
  '                   [--out FILE] [--detach] [--with-workers] [--config FILE]';

export { cohortWorkflowId } from './cohort-runner';

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
    if (!existsSync(manifest)) throw new MewmError('InvalidInput', `no cohort manifest at the path given (a cohort folder needs its manifest.jsonl)`);
    // Paths stay on this side: the workflow gets case ids and case source artifacts only.
    const cases = await readCohortManifest(manifest, values.split);
    if (cases.length === 0) throw new MewmError('InvalidInput', values.split === undefined ? 'the cohort manifest lists no cases' : `the cohort manifest has no ${values.split} cases`);
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
    const stores = new ArtifactStores(config.artifacts.s3, {}, config.artifacts);
    try {
      const store = stores.forConfig(parseArtifactLocation(config.artifacts.location, config.artifacts.s3));
      const { workflowId } = await startCohort(session.client, store, { cohortId, cases, settings: config.planning, concurrency: config.cohort.concurrency, pageSize: config.cohort.pageSize }, log);
      if (values.detach) {
        process.stdout.write(`cohort ${cohortId} running as workflow ${workflowId}; follow it with: mewm status ${workflowId}\n`);
        // The server and workers this command started stop with it: the cohort waits for others.
        if (session.startedServer || values['with-workers']) {
          process.stderr.write(
            `note: ${session.startedServer ? 'the embedded Temporal server' : 'the workers'} started by this command stop${session.startedServer ? 's' : ''} when it exits; ` +
              'the cohort goes on once `mewm server` and `mewm worker --queue all` run (or `mewm cohort` again without --detach)\n',
          );
        }
        return 0;
      }
      const result = await awaitCohort(session.client, workflowId, `cohort ${cohortId}`);
      // Manifest order, not completion order: a re-run writes the same file.
      const order = new Map(cases.map((c, i) => [c.caseId, i]));
      const outcomes = (await readCohortOutcomes(stores, result)).sort((a, b) => (order.get(a.caseId) ?? Infinity) - (order.get(b.caseId) ?? Infinity));
      const outFile = resolve(values.out ?? join(config.dataDir, 'cohorts', `${cohortId}.jsonl`));
      await mkdir(dirname(outFile), { recursive: true });
      await writeFile(outFile, outcomes.map((o) => `${JSON.stringify(o)}\n`).join(''));
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
