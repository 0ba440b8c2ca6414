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
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeCaseSource } from '../../activities/case-source';
import { resolveCase } from '../app/case-input';
import { writePlanOutputs, type PlanAudit } from '../app/plan-audit';
import { followPlan, planWorkflowId, plans } from '../app/workflow-client';
import { ArtifactStores, parseArtifactLocation } from '../artifacts';
import { loadConfig } from '../config/load';
import type { ConfigOverrides, MewmConfig } from '../config/config';
import { protocolLabel } from '../core/vocabulary';
import type { ModelIdentity } from '../models/world-model';
import { createLogger } from '../logging/logger';
import { requirementsFromConfig, unservedQueues } from '../../workers/serving';
import { QUEUE_ROLES } from '../../workflows/task-queues';
import type { PlanResult } from '../../workflows/types';
import { runCommand, type Command, type Env } from './command';
import { formatRisk, formatTable, progressReporter } from './command-support';
import { openTemporal } from '../app/temporal';

const USAGE =
  'usage: mewm plan <case: CT .nii.gz | DICOM folder | case folder> [--mask FILE] [--no-mask] [--case-id ID] [--seed N]\n' +
  '                 [--out DIR] [--workflow-id ID] [--json] [--with-workers] [--config FILE]';

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

/** One line per model role that planned: name, version, short hash, backend and intended use. */
export function modelLines(audit: PlanAudit): string[] {
  const seen = new Map<string, ModelIdentity>();
  for (const step of audit.steps) for (const m of step.models) seen.set(`${m.role}/${m.sha256}`, m);
  return [...seen.values()].map(
    (m) => `${m.role.padEnd(9)} ${m.name} ${m.version} (${m.backend}, sha256 ${m.sha256.slice(0, 12)})${m.intendedUse ? ` — ${m.intendedUse}` : ''}`,
  );
}

interface PlanArguments {
  readonly casePath: string;
  readonly mask?: string;
  readonly noMask: boolean;
  readonly caseId?: string;
  readonly seed?: number;
  readonly out?: string;
  readonly workflowId?: string;
  readonly json: boolean;
  readonly withWorkers: boolean;
  readonly configPath?: string;
}

function parsePlanArguments(argv: readonly string[]): PlanArguments {
  const { values, positionals } = parseArgs({
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
  if (positionals.length !== 1) throw new Error('give exactly one case');
  if (values.seed !== undefined && !/^\d+$/.test(values.seed)) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  return {
    casePath: positionals[0]!,
    noMask: values['no-mask'] === true,
    json: values.json === true,
    withWorkers: values['with-workers'] === true,
    ...(values.mask ? { mask: values.mask } : {}),
    ...(values['case-id'] ? { caseId: values['case-id'] } : {}),
    ...(values.seed !== undefined ? { seed: Number(values.seed) } : {}),
    ...(values.out !== undefined ? { out: values.out } : {}),
    ...(values['workflow-id'] !== undefined ? { workflowId: values['workflow-id'] } : {}),
    ...(values.config ? { configPath: values.config } : {}),
  };
}

async function plan(args: PlanArguments, env: Env): Promise<0> {
  const resolved = resolveCase(args.casePath, {
    ...(args.mask ? { mask: args.mask } : {}),
    ...(args.noMask ? { noMask: true } : {}),
    ...(args.caseId ? { caseId: args.caseId } : {}),
  });
  const source = { env, ...(args.configPath ? { configPath: args.configPath } : {}) };
  const firstPass = loadConfig(source);
  const overrides: ConfigOverrides = {
    ...(args.seed !== undefined ? { planning: { seed: args.seed } } : {}),
    ...(firstPass.worldModel.backend === 'oracle' && !firstPass.worldModel.oracleCohortDir && resolved.cohortDir
      ? { worldModel: { oracleCohortDir: resolved.cohortDir } }
      : {}),
  };
  const config: MewmConfig = loadConfig({ ...source, overrides });
  const log = createLogger(config.log);
  const embedded = config.temporal.address === null;
  const session = await openTemporal(config, log, { workers: embedded || args.withWorkers ? QUEUE_ROLES : [] });
  const stores = new ArtifactStores(config.artifacts.s3, {}, config.artifacts);
  try {
    const workflowId = args.workflowId ?? planWorkflowId(resolved.input.caseId, config.planning.seed);
    const caseRef = await writeCaseSource(stores.forConfig(parseArtifactLocation(config.artifacts.location, config.artifacts.s3)), resolved.input);
    // What this plan asks for travels with it; only workers serving exactly that can plan it (src/core/serving.ts).
    const requirements = await requirementsFromConfig(config);
    const { started } = await plans.start(session.client, workflowId, { case: caseRef, settings: config.planning, requirements });
    if (!started) log.info({ workflowId }, 'this plan is already running: following it');
    if (!embedded && !args.withWorkers)
      for (const note of await unservedQueues(session.client, config.temporal.namespace, requirements)) process.stderr.write(`note: ${note}\n`);
    log.info({ workflowId, caseId: resolved.input.caseId }, 'plan started');
    const progress = progressReporter('planning');
    let result: PlanResult;
    try {
      result = await followPlan(session.client, workflowId, (p) =>
        progress.update(p.stepsDone, p.stepsTotal, `${p.stage}${p.bestRisk === null ? '' : ` best risk ${formatRisk(p.bestRisk)}`}`),
      );
    } finally {
      progress.finish();
    }
    const outDir = resolve(args.out ?? join(config.dataDir, 'plans', workflowId));
    const { files, audit } = await writePlanOutputs(outDir, result, session.client, stores);
    if (args.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      const p = config.planning;
      const sampler = requirements.worldModel.runtime?.sampler;
      process.stdout.write(
        `\nCase ${result.caseId} (workflow ${workflowId}; ${result.proposal.policy.name} policy; ` +
          `B=${p.beams} D=${p.drugCandidates} E=${p.embolicCandidates} T=${p.replicas} Hd=${p.drugHorizon} He=${p.embolicHorizon}, seed ${p.seed}` +
          `${sampler ? `; ${sampler.method} ${sampler.steps} steps` : ''}; preset ${config.preset})\n` +
          `Candidates: drugs ${result.proposal.drugs.join(', ')}; embolics ${result.proposal.embolics.join(', ')}\n\n` +
          `${stepTable(result)}\n\n` +
          `Protocol: ${protocolLabel(result.protocol)}  (mean risk ${formatRisk(result.risk)}, beam b${result.chosenBeam.slot})\n` +
          `Models:\n${modelLines(audit)
            .map((l) => `  ${l}\n`)
            .join('')}` +
          `Outputs: ${files.map((f) => basename(f)).join(', ')} in ${outDir}\n` +
          `Audit:   mewm audit ${workflowId} --format csv\n`,
      );
    }
    return 0;
  } finally {
    stores.close();
    await session.close();
  }
}

export const planCommand: Command<PlanArguments> = { name: 'plan', usage: USAGE, parse: parsePlanArguments, run: (args, { env }) => plan(args, env) };

export function runPlan(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(planCommand, argv, env);
}
