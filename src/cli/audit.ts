/**
 * `mewm audit <workflowId>`: the audit of one plan as JSON (every beam-step record) or CSV (one row
 * per simulated replica: beam, candidate, seed, risk, artifact URIs and hashes, model versions).
 *
 *   mewm audit <planWorkflowId> [--format json|csv] [--out FILE] [--config FILE]
 *
 * The step list comes from the workflow's result when it completed, from its `planAudit` query
 * while it runs (a worker must be up for that); each step's record is read from the artifact store.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ArtifactStores } from '../artifacts';
import { getJson } from '../artifacts/volumes';
import { loadConfig } from '../config/load';
import { MewmError } from '../core/errors';
import { protocolKey } from '../core/vocabulary';
import { createLogger } from '../../workers/logging';
import { planAuditQuery } from '../../workflows/queries';
import type { BeamStepAudit, PlanResult, StepSummary } from '../../workflows/types';
import { commandFailed, usageError } from './command-support';
import { openTemporal } from './server';

const USAGE = 'usage: mewm audit <planWorkflowId> [--format json|csv] [--out FILE] [--config FILE]';

export interface PlanAudit {
  readonly schema: 'mewm.audit/1';
  readonly planId: string;
  readonly caseId: string;
  readonly status: string;
  readonly steps: readonly BeamStepAudit[];
}

export async function loadPlanAudit(client: Client, stores: ArtifactStores, workflowId: string): Promise<PlanAudit> {
  const handle = client.workflow.getHandle(workflowId);
  let status: string;
  try {
    status = (await handle.describe()).status.name;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new MewmError('InvalidInput', `no workflow ${workflowId}: list plans with \`mewm status\``, { workflowId });
    throw error;
  }
  let caseId: string;
  let summaries: readonly StepSummary[];
  if (status === 'COMPLETED') {
    const result = (await handle.result()) as PlanResult;
    if (result?.schema !== 'mewm.plan/1') throw new MewmError('InvalidInput', `workflow ${workflowId} is not a planTreatment run`, { workflowId });
    caseId = result.caseId;
    summaries = result.steps;
  } else {
    const view = await handle.query(planAuditQuery);
    caseId = view.caseId;
    summaries = view.steps;
  }
  const steps = await Promise.all(summaries.map((s) => getJson<BeamStepAudit>(stores.storeFor(s.audit.uri), s.audit)));
  return { schema: 'mewm.audit/1', planId: workflowId, caseId, status, steps };
}

const CSV_HEADER = [
  'planId',
  'caseId',
  'phase',
  'step',
  'beam',
  'agent',
  'candidateKey',
  'protocol',
  'rank',
  'chosen',
  'replica',
  'seed',
  'risk',
  'meanRisk',
  'spreadRisk',
  'ctUri',
  'ctSha256',
  'labelsUri',
  'labelsSha256',
  'dynamicsModel',
  'assistantModel',
  'heuristicModel',
] as const;

function csvCell(value: string | number | boolean): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function auditToCsv(audit: PlanAudit): string {
  const lines = [CSV_HEADER.join(',')];
  for (const step of audit.steps) {
    const chosen = new Set(step.extensions.filter((e) => e.outcome === 'extended').map((e) => e.chosenKey));
    const model = (role: string) => {
      const m = step.models.find((x) => x.role === role);
      return m ? `${m.name}@${m.version}#${m.sha256.slice(0, 16)}` : '';
    };
    for (const candidate of step.candidates) {
      for (const replica of candidate.replicas) {
        const row: Record<(typeof CSV_HEADER)[number], string | number | boolean> = {
          planId: audit.planId,
          caseId: audit.caseId,
          phase: step.phase,
          step: step.step,
          beam: candidate.beam,
          agent: candidate.agent,
          candidateKey: candidate.key,
          protocol: protocolKey(candidate.protocol),
          rank: candidate.rank,
          chosen: chosen.has(candidate.key),
          replica: replica.replica,
          seed: replica.seed,
          risk: replica.risk,
          meanRisk: candidate.meanRisk,
          spreadRisk: candidate.spreadRisk,
          ctUri: replica.ct.uri,
          ctSha256: replica.ct.sha256,
          labelsUri: replica.labels.uri,
          labelsSha256: replica.labels.sha256,
          dynamicsModel: model('dynamics'),
          assistantModel: model('assistant'),
          heuristicModel: model('heuristic'),
        };
        lines.push(CSV_HEADER.map((c) => csvCell(row[c])).join(','));
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function runAudit(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options: { format: { type: 'string', default: 'json' }, out: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
    if (parsed.values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (parsed.positionals.length !== 1) throw new Error('give exactly one workflow id');
    if (parsed.values.format !== 'json' && parsed.values.format !== 'csv') throw new Error(`--format must be json or csv, got ${parsed.values.format}`);
  } catch (error) {
    return usageError(USAGE, error);
  }
  const { values, positionals } = parsed;
  try {
    const config = loadConfig(values.config ? { configPath: values.config } : {});
    const log = createLogger(config.log);
    const session = await openTemporal(config, log);
    const stores = new ArtifactStores(config.artifacts.s3);
    try {
      const audit = await loadPlanAudit(session.client, stores, positionals[0]!);
      const text = values.format === 'csv' ? auditToCsv(audit) : `${JSON.stringify(audit, null, 2)}\n`;
      if (values.out) await writeFile(values.out, text);
      else process.stdout.write(text);
      return 0;
    } finally {
      stores.close();
      await session.close();
    }
  } catch (error) {
    return commandFailed(error);
  }
}
