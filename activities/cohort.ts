/**
 * CPU-queue activities for cohorts: reading one page of a cohort manifest, and finding which
 * patients already have a completed plan (so a re-run skips them).
 *
 * Manifest: JSON Lines, one case per line: `{"caseId": "...", "ct": "...", "mask": "..."}` with
 * paths relative to the manifest's folder; the `mewm synth` names `preCt` / `preLabels` are read
 * too. A line without a CT path is read from the synthetic layout: `cases/<caseId>/pre-ct.nii.gz`
 * and, when present, `cases/<caseId>/pre-labels.nii.gz`. Other fields (outcomes, reports) are
 * ignored: the planner never sees them. Lines may carry a `split`; `split` in the input filters on it.
 */
import { access, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { MewmError } from '../src/core/errors';
import type { CohortCase, CohortCaseOutcome, PlanResult } from '../workflows/types';
import { withTypedFailures } from './failures';
import type { ActivityLogger } from './deps';

export interface CohortPageInput {
  readonly manifest: string;
  readonly offset: number;
  readonly limit: number;
  readonly split?: string;
}

export interface CohortPage {
  readonly cases: readonly CohortCase[];
  /** Cases in the whole (filtered) manifest. */
  readonly total: number;
}

export interface CohortDependencies {
  readonly log: ActivityLogger;
  /** Used outside a worker (in-process runs); inside one, the worker's own client is used. */
  readonly client?: Client;
}

const caseIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Parses a cohort manifest into cases (all of them, in file order). */
export async function readCohortManifest(manifest: string, split?: string): Promise<CohortCase[]> {
  const path = manifest.startsWith('file://') ? new URL(manifest).pathname : resolve(manifest);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MewmError('InvalidInput', `cannot read the cohort manifest ${path}: give the path of a JSON Lines file (e.g. the manifest.jsonl of mewm synth)`, { path }, { cause: error });
  }
  const root = dirname(path);
  const at = (p: string) => (isAbsolute(p) ? p : join(root, p));
  const cases: CohortCase[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      throw new MewmError('InvalidInput', `cohort manifest line ${index + 1} is not JSON`, { line: index + 1 }, { cause: error });
    }
    const caseId = entry.caseId ?? entry.id;
    if (typeof caseId !== 'string' || !caseIdPattern.test(caseId)) {
      throw new MewmError('InvalidInput', `cohort manifest line ${index + 1}: caseId must be a pseudonymous id of letters, digits, '.', '_' or '-'`, { line: index + 1 });
    }
    if (seen.has(caseId)) throw new MewmError('InvalidInput', `cohort manifest line ${index + 1}: case ${caseId} appears twice`, { line: index + 1, caseId });
    seen.add(caseId);
    if (split !== undefined && entry.split !== split) continue;
    const ctField = typeof entry.ct === 'string' ? entry.ct : typeof entry.preCt === 'string' ? entry.preCt : undefined;
    const maskField = typeof entry.mask === 'string' ? entry.mask : typeof entry.preLabels === 'string' ? entry.preLabels : undefined;
    const ct = ctField !== undefined ? at(ctField) : join(root, 'cases', caseId, 'pre-ct.nii.gz');
    const defaultMask = join(root, 'cases', caseId, 'pre-labels.nii.gz');
    const mask = maskField !== undefined ? at(maskField) : ctField !== undefined ? undefined : (await exists(defaultMask)) ? defaultMask : undefined;
    cases.push({ caseId, ct, ...(mask === undefined ? {} : { mask }) });
  }
  return cases;
}

export function createCohortActivities(deps: CohortDependencies) {
  async function readCohortPage(input: CohortPageInput): Promise<CohortPage> {
    const cases = await readCohortManifest(input.manifest, input.split);
    return { cases: cases.slice(input.offset, input.offset + input.limit), total: cases.length };
  }

  /** Which of these plan workflows already completed, with their outcome. Failed or absent ones are planned again. */
  async function findFinishedPlans(input: { workflowIds: readonly string[] }): Promise<Record<string, CohortCaseOutcome>> {
    const client = deps.client ?? Context.current().client;
    const finished: Record<string, CohortCaseOutcome> = {};
    for (const workflowId of input.workflowIds) {
      const handle = client.workflow.getHandle(workflowId);
      try {
        const description = await handle.describe();
        if (description.status.name !== 'COMPLETED') continue;
        const result = (await handle.result()) as PlanResult;
        finished[workflowId] = { caseId: result.caseId, workflowId, status: 'skipped', protocol: result.protocol, risk: result.risk };
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) continue;
        throw error;
      }
    }
    if (Object.keys(finished).length > 0) deps.log.info({ skipped: Object.keys(finished).length }, 'cohort: plans already completed are skipped');
    return finished;
  }

  return withTypedFailures({ readCohortPage, findFinishedPlans });
}

export type CohortActivities = ReturnType<typeof createCohortActivities>;
