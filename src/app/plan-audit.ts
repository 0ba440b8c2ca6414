/**
 * A plan seen from outside Temporal: its audit (every beam-step record, read from the artifact
 * store), the audit as CSV, a completed plan's result, and the files `mewm plan` writes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { ArtifactStores } from '../artifacts';
import { getJson } from '../artifacts/volumes';
import { MewmError } from '../core/errors';
import { protocolKey } from '../core/vocabulary';
import type { BeamStepAudit, PlanResult, StepSummary } from '../../workflows/types';
import { describeRun, plans, WORKFLOW_TYPES } from './workflow-client';

export interface PlanAudit {
  readonly schema: 'mewm.audit/1';
  readonly planId: string;
  readonly caseId: string;
  readonly status: string;
  readonly steps: readonly BeamStepAudit[];
}

const findPlans = 'list plans with `mewm status`';

/** The step list from the result of a completed plan, from its `planAudit` query while it runs. */
export async function loadPlanAudit(client: Client, stores: ArtifactStores, workflowId: string): Promise<PlanAudit> {
  const status = (await describeRun(client, workflowId, findPlans)).status.name;
  let caseId: string;
  let summaries: readonly StepSummary[];
  if (status === 'COMPLETED') {
    const result = await plans.result(client, workflowId);
    if (result?.schema !== 'mewm.plan/1') throw new MewmError('InvalidInput', `workflow ${workflowId} is not a planTreatment run`, { workflowId });
    caseId = result.caseId;
    summaries = result.steps;
  } else {
    const view = await plans.auditView(client, workflowId);
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

/** One row per simulated replica: beam, candidate, seed, risk, artifact URIs and hashes, model versions. */
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

/**
 * The result of a completed planTreatment run. A run that is still going, failed, or is not a plan
 * is an InvalidInput naming the workflow id and what to do (waiting on it would hang).
 */
export async function fetchPlanResult(client: Client, workflowId: string): Promise<PlanResult> {
  const description = await describeRun(client, workflowId, findPlans);
  if (description.type !== WORKFLOW_TYPES.plan)
    throw new MewmError('InvalidInput', `workflow ${workflowId} is a ${description.type}, not a plan: report one of its plans (\`mewm status\` lists them)`, {
      workflowId,
    });
  const status = description.status.name;
  if (status !== 'COMPLETED') {
    const hint = status === 'RUNNING' ? `wait for it (\`mewm status ${workflowId}\`)` : 'only a completed plan has a report';
    throw new MewmError('InvalidInput', `plan ${workflowId} is ${status}: ${hint}`, { workflowId, status });
  }
  const result = await plans.result(client, workflowId);
  if (result?.schema !== 'mewm.plan/1') throw new MewmError('InvalidInput', `workflow ${workflowId} did not return a mewm.plan/1 result`, { workflowId });
  return result;
}

/** plan.json, audit.json, audit.csv and the preview PNGs of a finished plan, in `outDir`. */
export async function writePlanOutputs(
  outDir: string,
  result: PlanResult,
  client: Client,
  stores: ArtifactStores,
): Promise<{ files: string[]; audit: PlanAudit }> {
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  const put = async (name: string, data: string | Uint8Array) => {
    await writeFile(join(outDir, name), data);
    written.push(join(outDir, name));
  };
  await put('plan.json', `${JSON.stringify(result, null, 2)}\n`);
  const audit = await loadPlanAudit(client, stores, result.planId);
  await put('audit.json', `${JSON.stringify(audit, null, 2)}\n`);
  await put('audit.csv', auditToCsv(audit));
  for (const [i, ref] of result.previews.entries()) await put(i === 0 ? 'preview.png' : `preview-${i}.png`, await stores.storeFor(ref.uri).get(ref));
  return { files: written, audit };
}
