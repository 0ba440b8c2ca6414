/**
 * `mewm plan <case>`: plans one patient through Temporal and prints the chosen protocol and a
 * per-step table; writes plan.json, audit.json, audit.csv and preview.png.
 *
 *   mewm plan <case> [--mask FILE] [--case-id ID] [--seed N] [--out DIR] [--workflow-id ID]
 *                    [--no-mask] [--json] [--with-workers] [--config FILE]
 *
 * <case> is a pre-treatment CT: a .nii/.nii.gz file, a DICOM series folder, or a case folder with
 * pre-ct.nii.gz (and pre-labels.nii.gz, used as the mask) as `mewm synth` writes them. Without a
 * mask the assistant model segments the CT first.
 *
 * No TEMPORAL_ADDRESS: the embedded dev server (started if nothing answers on its port) and the
 * all-in-one workers run in this process. With TEMPORAL_ADDRESS, workers are expected elsewhere
 * (`mewm worker`), unless --with-workers.
 * With the oracle backend and no MEWM_ORACLE_COHORT, the synthetic cohort holding the case is used.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { ArtifactStores, parseArtifactLocation } from '../artifacts';
import { caseIdPattern, writeCaseSource, type CaseInput } from '../../activities/case-source';
import { loadConfig } from '../config/load';
import type { ConfigOverrides, MewmConfig } from '../config/config';
import { MewmError } from '../core/errors';
import { inputLabel, isSyntheticName } from '../io/input-label';
import { protocolLabel } from '../core/vocabulary';
import { createLogger } from '../../workers/logging';
import { planProgressQuery } from '../../workflows/queries';
import { QUEUE_ROLES, TASK_QUEUES } from '../../workflows/task-queues';
import type { PlanResult } from '../../workflows/types';
import { auditToCsv, loadPlanAudit, type PlanAudit } from './audit';
import type { ModelIdentity } from '../models/world-model';
import { commandFailed, formatRisk, formatTable, progressReporter, usageError } from './command-support';
import { openTemporal } from './server';

const USAGE =
  'usage: mewm plan <case: CT .nii.gz | DICOM folder | case folder> [--mask FILE] [--no-mask] [--case-id ID] [--seed N]\n' +
  '                 [--out DIR] [--workflow-id ID] [--json] [--with-workers] [--config FILE]';

export interface ResolvedCase {
  /** Paths stay on this side: the workflow gets the case id and a case source artifact (writeCaseSource). */
  readonly input: CaseInput;
  /** The synthetic cohort the case comes from, if any (for the oracle backend). */
  readonly cohortDir: string | null;
}

/** Turns what the user pointed at into a CaseInput with a pseudonymous case id. */
export function resolveCase(path: string, options: { mask?: string; noMask?: boolean; caseId?: string }): ResolvedCase {
  const absolute = resolve(path);
  // Messages name the input by its role: a user's path may hold a patient's name (src/io/input-label.ts).
  if (!existsSync(absolute)) throw new MewmError('InvalidInput', `the case path ${inputLabel(absolute, 'given')} does not exist`);
  let ct = absolute;
  let mask = options.mask ? resolve(options.mask) : undefined;
  let derivedId: string;
  let caseDir: string;
  const isDir = statSync(absolute).isDirectory();
  // File and folder names can carry patient names: an opaque id unless mewm synth named the folder.
  derivedId = isSyntheticName(basename(absolute)) ? basename(absolute) : `case-${createHash('sha256').update(absolute).digest('hex').slice(0, 12)}`;
  if (isDir && existsSync(join(absolute, 'pre-ct.nii.gz'))) {
    ct = join(absolute, 'pre-ct.nii.gz');
    if (!mask && existsSync(join(absolute, 'pre-labels.nii.gz'))) mask = join(absolute, 'pre-labels.nii.gz');
    caseDir = absolute;
  } else {
    caseDir = isDir ? absolute : dirname(absolute);
  }
  if (options.noMask) mask = undefined;
  if (mask && !existsSync(mask)) throw new MewmError('InvalidInput', `the mask ${inputLabel(mask, 'given with --mask')} does not exist`);
  const caseId = options.caseId ?? derivedId;
  // Not echoed: an id that fails the pattern may be a patient's name.
  if (!caseIdPattern.test(caseId)) throw new MewmError('InvalidInput', "the case id must be letters, digits, '.', '_' or '-' (a pseudonym, never a patient identifier)");
  let cohortDir: string | null = null;
  for (let dir = caseDir, i = 0; i < 3; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'truth.jsonl')) && existsSync(join(dir, 'world.json'))) {
      cohortDir = dir;
      break;
    }
  }
  return { input: { caseId, ct, ...(mask ? { mask } : {}) }, cohortDir };
}

export function stepTable(result: PlanResult): string {
  const rows: string[][] = [];
  for (const step of result.steps) {
    for (const beam of step.beams) {
      const replaced = step.replacement?.worst === beam.slot ? `← b${step.replacement.best}` : '';
      rows.push([`${step.phase}-${step.step}`, `b${beam.slot}`, protocolLabel(beam.protocol), formatRisk(beam.risk), replaced]);
    }
  }
  return formatTable(['step', 'beam', 'protocol', 'mean risk', 'replaced'], rows);
}

async function awaitWithProgress(client: Client, workflowId: string, runResult: Promise<PlanResult>): Promise<PlanResult> {
  const progress = progressReporter('planning');
  let finished = false;
  const poll = (async () => {
    while (!finished) {
      try {
        const p = await client.workflow.getHandle(workflowId).query(planProgressQuery);
        progress.update(p.stepsDone, p.stepsTotal, `${p.stage}${p.bestRisk === null ? '' : ` best risk ${formatRisk(p.bestRisk)}`}`);
      } catch {
        // not yet started, or between workers: the next poll will tell
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  try {
    return await runResult;
  } finally {
    finished = true;
    await poll;
    progress.finish();
  }
}

/** One line per model role that planned: name, version, short hash, backend and intended use. */
export function modelLines(audit: PlanAudit): string[] {
  const seen = new Map<string, ModelIdentity>();
  for (const step of audit.steps) for (const m of step.models) seen.set(`${m.role}/${m.sha256}`, m);
  return [...seen.values()].map((m) => `${m.role.padEnd(9)} ${m.name} ${m.version} (${m.backend}, sha256 ${m.sha256.slice(0, 12)})${m.intendedUse ? ` — ${m.intendedUse}` : ''}`);
}

export async function writePlanOutputs(outDir: string, result: PlanResult, client: Client, stores: ArtifactStores): Promise<{ files: string[]; audit: PlanAudit }> {
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

export async function runPlan(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        mask: { type: 'string' },
        'no-mask': { type: 'boolean' },
        'case-id': { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'workflow-id': { type: 'string' },
        json: { type: 'boolean' },
        'with-workers': { type: 'boolean' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (parsed.values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (parsed.positionals.length !== 1) throw new Error('give exactly one case');
    if (parsed.values.seed !== undefined && !/^\d+$/.test(parsed.values.seed)) throw new Error(`--seed must be a non-negative integer, got ${parsed.values.seed}`);
  } catch (error) {
    return usageError(USAGE, error);
  }
  const { values, positionals } = parsed;
  try {
    const resolved = resolveCase(positionals[0]!, {
      ...(values.mask ? { mask: values.mask } : {}),
      ...(values['no-mask'] ? { noMask: true } : {}),
      ...(values['case-id'] ? { caseId: values['case-id'] } : {}),
    });
    const firstPass = loadConfig(values.config ? { configPath: values.config } : {});
    const overrides: ConfigOverrides = {
      ...(values.seed !== undefined ? { planning: { seed: Number(values.seed) } } : {}),
      ...(firstPass.worldModel.backend === 'oracle' && !firstPass.worldModel.oracleCohortDir && resolved.cohortDir ? { worldModel: { oracleCohortDir: resolved.cohortDir } } : {}),
    };
    const config: MewmConfig = loadConfig({ ...(values.config ? { configPath: values.config } : {}), overrides });
    const log = createLogger(config.log);
    const embedded = config.temporal.address === null;
    const session = await openTemporal(config, log, { workers: embedded || values['with-workers'] ? QUEUE_ROLES : [] });
    const stores = new ArtifactStores(config.artifacts.s3, {}, config.artifacts);
    try {
      const workflowId = values['workflow-id'] ?? `plan-${resolved.input.caseId}-s${config.planning.seed}`;
      const caseRef = await writeCaseSource(stores.forConfig(parseArtifactLocation(config.artifacts.location, config.artifacts.s3)), resolved.input);
      let handle;
      try {
        handle = await session.client.workflow.start('planTreatment', {
          taskQueue: TASK_QUEUES.cpu,
          workflowId,
          args: [{ case: caseRef, settings: config.planning }],
        });
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        log.info({ workflowId }, 'this plan is already running: following it');
        handle = session.client.workflow.getHandle(workflowId);
      }
      log.info({ workflowId, caseId: resolved.input.caseId }, 'plan started');
      const result = await awaitWithProgress(session.client, workflowId, handle.result() as Promise<PlanResult>);
      const outDir = resolve(values.out ?? join(config.dataDir, 'plans', workflowId));
      const { files, audit } = await writePlanOutputs(outDir, result, session.client, stores);
      if (values.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else {
        process.stdout.write(
          `\nCase ${result.caseId} (workflow ${workflowId}; ${result.proposal.policy.name} policy; ` +
            `B=${config.planning.beams} D=${config.planning.drugCandidates} E=${config.planning.embolicCandidates} T=${config.planning.replicas} Hd=${config.planning.drugHorizon} He=${config.planning.embolicHorizon}, seed ${config.planning.seed})\n` +
            `Candidates: drugs ${result.proposal.drugs.join(', ')}; embolics ${result.proposal.embolics.join(', ')}\n\n` +
            `${stepTable(result)}\n\n` +
            `Protocol: ${protocolLabel(result.protocol)}  (mean risk ${formatRisk(result.risk)}, beam b${result.chosenBeam.slot})\n` +
            `Models:\n${modelLines(audit).map((l) => `  ${l}\n`).join('')}` +
            `Outputs: ${files.map((f) => basename(f)).join(', ')} in ${outDir}\n` +
            `Audit:   mewm audit ${workflowId} --format csv\n`,
        );
      }
      return 0;
    } finally {
      stores.close();
      await session.close();
    }
  } catch (error) {
    return commandFailed(error);
  }
}
