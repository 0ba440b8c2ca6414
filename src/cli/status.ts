/**
 * `mewm status`: recent mewm runs from Temporal visibility (search attributes), or one run.
 *
 *   mewm status [--cohort ID] [--status running|completed|failed] [--limit N] [--config FILE]
 *   mewm status <workflowId>       status, progress (needs a worker for a running workflow), result
 */
import { parseArgs } from 'node:util';
import { completedResult, describeRun, runProgress, WORKFLOW_TYPES } from '../app/workflow-client';
import { loadConfig } from '../config/load';
import { protocolLabel } from '../core/vocabulary';
import { createLogger } from '../logging/logger';
import { runCommand, type Command, type Env } from './command';
import { formatRisk, formatTable } from './command-support';
import { openTemporal } from '../app/temporal';

const USAGE = 'usage: mewm status [<workflowId>] [--cohort ID] [--status running|completed|failed] [--limit N] [--config FILE]';

/** A visibility query over mewm's search attributes; values are quoted, ids are pseudonymous. */
export function listQuery(options: { cohort?: string; status?: string }): string {
  const quote = (v: string) => `"${v.replace(/["\\]/g, '')}"`;
  const clauses = [`(WorkflowType="${WORKFLOW_TYPES.plan}" OR WorkflowType="${WORKFLOW_TYPES.cohort}")`];
  if (options.cohort) clauses.push(`MewmCohortId=${quote(options.cohort)}`);
  if (options.status) clauses.push(`MewmStatus=${quote(options.status)}`);
  return clauses.join(' AND ');
}

interface StatusArguments {
  readonly workflowId?: string;
  readonly cohort?: string;
  readonly status?: string;
  readonly limit: number;
  readonly configPath?: string;
}

function parseStatusArguments(argv: readonly string[]): StatusArguments {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      cohort: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string', default: '20' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (!/^\d+$/.test(values.limit)) throw new Error('--limit must be a positive integer');
  if (positionals.length > 1) throw new Error('give at most one workflow id');
  return {
    limit: Number(values.limit),
    ...(positionals[0] ? { workflowId: positionals[0] } : {}),
    ...(values.cohort ? { cohort: values.cohort } : {}),
    ...(values.status ? { status: values.status } : {}),
    ...(values.config ? { configPath: values.config } : {}),
  };
}

async function status(args: StatusArguments, env: Env): Promise<0> {
  const config = loadConfig({ env, ...(args.configPath ? { configPath: args.configPath } : {}) });
  const session = await openTemporal(config, createLogger(config.log));
  try {
    const client = session.client;
    if (args.workflowId) {
      const description = await describeRun(client, args.workflowId, 'list runs with `mewm status`');
      const lines = [`${description.workflowId}  ${description.type}  ${description.status.name}  started ${description.startTime.toISOString()}`];
      if (description.status.name === 'RUNNING') {
        lines.push(JSON.stringify(await runProgress(client, description)));
      } else if (description.status.name === 'COMPLETED') {
        const result = await completedResult(client, args.workflowId);
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
    for await (const w of client.workflow.list({
      query: listQuery({ ...(args.cohort ? { cohort: args.cohort } : {}), ...(args.status ? { status: args.status } : {}) }),
      pageSize: args.limit,
    })) {
      const attr = (name: string) => {
        const value = w.searchAttributes?.[name];
        return Array.isArray(value) && value.length > 0 ? String(value[0]) : '';
      };
      rows.push([w.workflowId, w.type, w.status.name, attr('MewmCohortId'), attr('MewmCaseId'), attr('MewmStatus'), w.startTime.toISOString()]);
      if (rows.length >= args.limit) break;
    }
    process.stdout.write(
      rows.length === 0 ? 'no mewm workflows found\n' : `${formatTable(['workflow', 'type', 'temporal', 'cohort', 'case', 'mewm', 'started'], rows)}\n`,
    );
    return 0;
  } finally {
    await session.close();
  }
}

export const statusCommand: Command<StatusArguments> = { name: 'status', usage: USAGE, parse: parseStatusArguments, run: (args, { env }) => status(args, env) };

export function runStatus(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(statusCommand, argv, env);
}
