/**
 * `mewm report`: the self-contained HTML report of one plan.
 *
 *   mewm report <workflowId> [--out FILE] [--config FILE]      a completed plan's result from Temporal
 *                                                              (TEMPORAL_ADDRESS, else the embedded server, as `mewm audit`)
 *   mewm report --plan FILE.json [--out FILE] [--config FILE]  a saved PlanResult (e.g. `mewm plan --json` output)
 *
 * Artifacts (ROI volumes, beam-step audits, replica volumes) are read from the stores their URIs
 * name. Pictures: key pre-CT slices with the tumour outline; for every explored candidate its
 * best replica's simulated post-CT with the predicted tumour outline, on the slice where the
 * pre-treatment tumour is largest. Default output: ./report-<caseId>.html.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fetchPlanResult } from '../app/plan-audit';
import { MewmError } from '../core/errors';
import { largestTumourSlice } from '../core/volume/roi';
import { Label, type LabelledCt, type Volume } from '../core/volume/volume';
import { ArtifactStores } from '../artifacts/index';
import type { ArtifactRef, ArtifactStore } from '../artifacts/store';
import { getCtVolume, getJson, getLabelVolume } from '../artifacts/volumes';
import { inputLabel } from '../io/input-label';
import { renderKeySlices } from '../io/key-slices';
import { encodePng, renderAxialSlice } from '../io/png';
import { protocolLabel } from '../core/vocabulary';
import { renderPlanReport, type PlanAuditRecord, type ReportCandidate, type ReportImage, type ReportModel, type ReportStep } from '../evaluation/report-html';
import { loadConfig } from '../config/load';
import type { BeamStepAudit, PlanResult } from '../../workflows/types';
import { createLogger } from '../logging/logger';
import { runCommand, type Command, type Env } from './command';
import { openTemporal } from '../app/temporal';

const USAGE = 'usage: mewm report <workflowId> [--out FILE] [--config FILE]\n       mewm report --plan PLAN.json [--out FILE] [--config FILE]';

export interface ReportArguments {
  readonly workflowId?: string;
  readonly planFile?: string;
  readonly outFile?: string;
  readonly configFile?: string;
}

export function parseReportArguments(argv: readonly string[]): ReportArguments {
  let workflowId: string | undefined;
  let planFile: string | undefined;
  let outFile: string | undefined;
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new MewmError('InvalidInput', `${arg} needs a value`);
      return v;
    };
    if (arg === '--plan') planFile = next();
    else if (arg === '--out') outFile = next();
    else if (arg === '--config') configFile = next();
    else if (arg.startsWith('--')) throw new MewmError('InvalidInput', `unknown argument "${arg}"`);
    else if (workflowId === undefined) workflowId = arg;
    else throw new MewmError('InvalidInput', `unexpected argument "${arg}"`);
  }
  if ((workflowId === undefined) === (planFile === undefined)) throw new MewmError('InvalidInput', 'give either a workflow id or --plan FILE');
  return { ...(workflowId ? { workflowId } : {}), ...(planFile ? { planFile } : {}), ...(outFile ? { outFile } : {}), ...(configFile ? { configFile } : {}) };
}

export interface StoreResolver {
  storeFor(uri: string): ArtifactStore;
}

/** The axial slice (RAS z index) with the most tumour voxels; the middle slice when there is none. */
function slicePng(ct: Volume, labels: Volume<Uint8Array>, z: number): Uint8Array {
  const image = renderAxialSlice(ct, z, { labels });
  return encodePng(image.rgba, image.width, image.height);
}

/** Builds the report's view of a plan from its result and the audit artifacts it points to. */
export async function buildAuditRecord(plan: PlanResult, stores: StoreResolver): Promise<PlanAuditRecord> {
  const get = <T>(ref: ArtifactRef) => getJson<T>(stores.storeFor(ref.uri), ref);
  const roi: LabelledCt = {
    ct: await getCtVolume(stores.storeFor(plan.prepared.roi.ct.uri), plan.prepared.roi.ct),
    labels: await getLabelVolume(stores.storeFor(plan.prepared.roi.labels.uri), plan.prepared.roi.labels),
  };
  // Candidates are shown on the slice where the pre-treatment tumour is largest, so steps compare like with like.
  // (The ROI is on the RAS planning grid, so its z index is the rendered axial slice.)
  const z = largestTumourSlice(roi.labels);
  // The plan's own key slices (what the policy saw) when it stored them; rendered here otherwise.
  const stored = plan.prepared.keySlices ?? [];
  const preCt: ReportImage[] =
    stored.length > 0
      ? await Promise.all(
          stored.map(async (ref, i) => ({ caption: `pre-CT key slice ${i + 1} (as shown to the policy)`, png: await stores.storeFor(ref.uri).get(ref) })),
        )
      : renderKeySlices(roi, 3).map((png, i) => ({ caption: `pre-CT key slice ${i + 1} (tumour outlined)`, png }));
  const models = new Map<string, ReportModel>();
  const steps: ReportStep[] = [];
  for (const summary of plan.steps) {
    const audit = await get<BeamStepAudit>(summary.audit);
    for (const m of audit.models) models.set(`${m.role}:${m.sha256}`, m);
    const candidates: ReportCandidate[] = [];
    for (const c of audit.candidates) {
      const best = [...c.replicas].sort((a, b) => a.risk - b.risk)[0];
      let bestReplica: ReportImage | undefined;
      if (best) {
        const ct = await getCtVolume(stores.storeFor(best.ct.uri), best.ct);
        const labels = await getLabelVolume(stores.storeFor(best.labels.uri), best.labels);
        bestReplica = {
          caption: `${protocolLabel(c.protocol)}: replica ${best.replica}, risk ${best.risk.toFixed(3)}`,
          png: slicePng(ct, labels, Math.min(z, ct.shape[2] - 1)),
        };
      }
      candidates.push({
        key: c.key,
        beam: c.beam,
        agent: c.agent,
        protocol: c.protocol,
        meanRisk: c.meanRisk,
        spreadRisk: c.spreadRisk,
        replicaRisks: c.replicas.map((r) => r.risk),
        ...(bestReplica ? { bestReplica } : {}),
      });
    }
    steps.push({
      phase: audit.phase,
      step: audit.step,
      beamsBefore: audit.beamsBefore.map((b) => ({ slot: b.slot, protocol: b.protocol, risk: b.risk })),
      beamsAfter: audit.beamsAfter.map((b) => ({ slot: b.slot, protocol: b.protocol, risk: b.risk })),
      candidates,
      pruned: audit.pruned.map((p) => ({ agent: p.agent, reason: `beam ${p.beam}: ${p.reasons.join(', ')}` })),
      ...(audit.replacement ? { replacement: `beam ${audit.replacement.worst} replaced by a copy of beam ${audit.replacement.best}` } : {}),
    });
  }
  const policy = plan.proposal.policy;
  const settings: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(plan.settings as unknown as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') settings[k] = v;
  }
  return {
    caseId: plan.caseId,
    planId: plan.planId,
    observationSummary: plan.prepared.observation.summary,
    chosen: { protocol: plan.protocol, risk: plan.risk },
    preCt,
    steps,
    models: [...models.values()],
    policy: { name: policy.name, version: policy.version, ...(policy.models ? { models: policy.models } : {}) },
    ...(policy.promptVersions ? { promptVersions: policy.promptVersions } : {}),
    settings,
  };
}

async function readPlanFile(file: string): Promise<PlanResult> {
  let plan: PlanResult;
  try {
    plan = JSON.parse(await readFile(file, 'utf8')) as PlanResult;
  } catch (error) {
    // No path and no cause (a file-system error's message holds the path): see docs/architecture.md, Privacy.
    const reason = (error as NodeJS.ErrnoException).code ?? 'not valid JSON';
    throw new MewmError('InvalidInput', `cannot read a plan result from ${inputLabel(file, 'the --plan file')} (${reason})`);
  }
  if (plan?.schema !== 'mewm.plan/1') throw new MewmError('InvalidInput', `${inputLabel(file, 'the --plan file')} is not a mewm.plan/1 result`);
  return plan;
}

async function report(args: ReportArguments, env: Env): Promise<0> {
  const config = loadConfig({ env, ...(args.configFile ? { configPath: args.configFile } : {}) });
  const stores = new ArtifactStores(config.artifacts.s3);
  try {
    let plan: PlanResult;
    if (args.planFile) {
      plan = await readPlanFile(args.planFile);
    } else {
      // Same connection rules as `mewm audit` and `mewm status`: TEMPORAL_ADDRESS, else the embedded server.
      const session = await openTemporal(config, createLogger(config.log));
      try {
        plan = await fetchPlanResult(session.client, args.workflowId!);
      } finally {
        await session.close();
      }
    }
    const html = renderPlanReport(await buildAuditRecord(plan, stores));
    const out = args.outFile ?? `report-${plan.caseId}.html`;
    await writeFile(out, html);
    process.stderr.write(`mewm report: ${out}\n`);
    return 0;
  } finally {
    stores.close();
  }
}

export const reportCommand: Command<ReportArguments> = { name: 'report', usage: USAGE, parse: parseReportArguments, run: (args, { env }) => report(args, env) };

export function runReport(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(reportCommand, argv, env);
}
