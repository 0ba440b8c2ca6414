/**
 * `mewm status`: recent mewm runs from Temporal visibility (search attributes), or one run.
 *
 *   mewm status [--cohort ID] [--status running|completed|failed] [--limit N] [--config FILE]
 *   mewm status <workflowId>       status, progress (needs a worker for a running workflow), result
 */
import { parseArgs } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import { loadConfig } from '../config/load';
import { MewmError } from '../core/errors';
import { protocolLabel } from '../core/vocabulary';
import { createLogger } from '../../workers/logging';
import { cohortProgressQuery, planProgressQuery } from '../../workflows/queries';
import type { CohortResult, PlanResult } from '../../workflows/types';
import { commandFailed, formatRisk, formatTable, usageError } from './command-support';
import { openTemporal } from './server';

const USAGE = 'usage: mewm status [<workflowId>] [--cohort ID] [--status running|completed|failed] [--limit N] [--config FILE]';

/** A visibility query over mewm's search attributes; values are quoted, ids are pseudonymous. */
export function listQuery(options: { cohort?: string; status?: string }): string {
  const quote = (v: string) => `"${v.replace(/["\\]/g, '')}"`;
  const clauses = ['(WorkflowType="planTreatment" OR WorkflowType="runCohort")'];
  if (options.cohort) clauses.push(`MewmCohortId=${quote(options.cohort)}`);
  if (options.status) clauses.push(`MewmStatus=${quote(options.status)}`);
  return clauses.join(' AND ');
}

export async function runStatus(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { cohort: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string', default: '20' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (parsed.values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (!/^\d+$/.test(parsed.values.limit)) throw new Error('--limit must be a positive integer');
    if (parsed.positionals.length > 1) throw new Error('give at most one workflow id');
  } catch (error) {
    return usageError(USAGE, error);
  }
  const { values, positionals } = parsed;
  try {
    const config = loadConfig(values.config ? { configPath: values.config } : {});
    const session = await openTemporal(config, createLogger(config.log));
    try {
      const client = session.client;
      if (positionals[0]) {
        const handle = client.workflow.getHandle(positionals[0]);
        let description;
        try {
          description = await handle.describe();
        } catch (error) {
          if (error instanceof WorkflowNotFoundError) throw new MewmError('InvalidInput', `no workflow ${positionals[0]}`);
          throw error;
        }
        const lines = [`${description.workflowId}  ${description.type}  ${description.status.name}  started ${description.startTime.toISOString()}`];
        if (description.status.name === 'RUNNING') {
          const progress = description.type === 'runCohort' ? await handle.query(cohortProgressQuery) : await handle.query(planProgressQuery);
          lines.push(JSON.stringify(progress));
        } else if (description.status.name === 'COMPLETED') {
          const result = (await handle.result()) as PlanResult | CohortResult;
          lines.push(
            result.schema === 'mewm.plan/1'
              ? `protocol ${protocolLabel(result.protocol)} (risk ${formatRisk(result.risk)})`
              : `cohort ${result.cohortId}: ${result.completed} completed, ${result.failed} failed, ${result.skipped} skipped of ${result.total}`,
          );
        }
        process.stdout.write(`${lines.join('\n')}\n`);
        return 0;
      }
      const rows: string[][] = [];
      for await (const w of client.workflow.list({ query: listQuery({ ...(values.cohort ? { cohort: values.cohort } : {}), ...(values.status ? { status: values.status } : {}) }), pageSize: Number(values.limit) })) {
        const attr = (name: string) => {
          const value = w.searchAttributes?.[name];
          return Array.isArray(value) && value.length > 0 ? String(value[0]) : '';
        };
        rows.push([w.workflowId, w.type, w.status.name, attr('MewmCohortId'), attr('MewmCaseId'), attr('MewmStatus'), w.startTime.toISOString()]);
        if (rows.length >= Number(values.limit)) break;
      }
      process.stdout.write(rows.length === 0 ? 'no mewm workflows found\n' : `${formatTable(['workflow', 'type', 'temporal', 'cohort', 'case', 'mewm', 'started'], rows)}\n`);
      return 0;
    } finally {
      await session.close();
    }
  } catch (error) {
    return commandFailed(error);
  }
}
