/**
 * `mewm audit <workflowId>`: the audit of one plan as JSON (every beam-step record) or CSV (one row
 * per simulated replica: beam, candidate, seed, risk, artifact URIs and hashes, model versions).
 *
 *   mewm audit <planWorkflowId> [--format json|csv] [--out FILE] [--config FILE]
 *
 * The step list comes from the workflow's result when it completed, from its `planAudit` query
 * while it runs (a worker must be up for that); each step's record is read from the artifact store
 * (src/app/plan-audit.ts).
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { auditToCsv, loadPlanAudit } from '../app/plan-audit';
import { ArtifactStores } from '../artifacts';
import { loadConfig } from '../config/load';
import { createLogger } from '../logging/logger';
import { runCommand, type Command, type Env } from './command';
import { openTemporal } from '../app/temporal';

const USAGE = 'usage: mewm audit <planWorkflowId> [--format json|csv] [--out FILE] [--config FILE]';

interface AuditArguments {
  readonly workflowId: string;
  readonly format: 'json' | 'csv';
  readonly out?: string;
  readonly configPath?: string;
}

function parseAuditArguments(argv: readonly string[]): AuditArguments {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { format: { type: 'string', default: 'json' }, out: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (positionals.length !== 1) throw new Error('give exactly one workflow id');
  if (values.format !== 'json' && values.format !== 'csv') throw new Error(`--format must be json or csv, got ${values.format}`);
  return {
    workflowId: positionals[0]!,
    format: values.format,
    ...(values.out ? { out: values.out } : {}),
    ...(values.config ? { configPath: values.config } : {}),
  };
}

async function audit(args: AuditArguments, env: Env): Promise<0> {
  const config = loadConfig({ env, ...(args.configPath ? { configPath: args.configPath } : {}) });
  const session = await openTemporal(config, createLogger(config.log));
  const stores = new ArtifactStores(config.artifacts.s3);
  try {
    const planAudit = await loadPlanAudit(session.client, stores, args.workflowId);
    const text = args.format === 'csv' ? auditToCsv(planAudit) : `${JSON.stringify(planAudit, null, 2)}\n`;
    if (args.out) await writeFile(args.out, text);
    else process.stdout.write(text);
    return 0;
  } finally {
    stores.close();
    await session.close();
  }
}

export const auditCommand: Command<AuditArguments> = { name: 'audit', usage: USAGE, parse: parseAuditArguments, run: (args, { env }) => audit(args, env) };

export function runAudit(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(auditCommand, argv, env);
}
