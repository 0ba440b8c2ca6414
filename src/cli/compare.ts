/**
 * `mewm compare`: the second reader (the paper's "Physician w/ MeWM"). Simulates a physician's
 * proposed protocol next to MeWM's protocol for one case of a synthetic cohort and reports the
 * difference in predicted risk (mean ± sd over replicas) and the simulated images.
 *
 *   mewm compare <caseId> --protocol "Cisplatin; Lipiodol" (--plan PLAN.json | --against "…")
 *                [--cohort DIR] [--replicas T] [--seed S] [--out FILE.html]
 *
 * --plan takes MeWM's chosen protocol from a saved plan result; --against names any protocol.
 * The world model comes from the configuration (MEWM_WORLD_MODEL, MEWM_ORACLE_COHORT or
 * MEWM_MODEL_DIR); --cohort defaults to the oracle's cohort. The ROI is built as the planner
 * builds it (tumour-centred, RAS, planning spacing and size from the configuration).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { MewmError } from '../core/errors';
import { deriveSeed } from '../core/random';
import { type LabelledCt } from '../core/volume/volume';
import { canonicalProtocol, isValidProtocol, protocolKey, protocolLabel, ruleViolations, type Protocol } from '../core/vocabulary';
import { loadConfig } from '../config/load';
import { renderComparisonReport, summariseRisks, type ComparedProtocol } from '../evaluation/report-html';
import { readPreTreatment, readSyntheticManifest } from '../io/cohort-manifest';
import { renderKeySlices } from '../io/key-slices';
import { encodePng, renderAxialSlice } from '../io/png';
import { createWorldModel } from '../backends/world-model';
import type { WorldModel } from '../models/world-model';
import { mapAgentNames } from '../policy/agent-names';
import { largestTumourSlice, planningRoi } from '../core/volume/roi';
import { runCommand, type Command, type Env } from './command';

const USAGE = 'usage: mewm compare <caseId> --protocol "A; B; C" (--plan PLAN.json | --against "…") [--cohort DIR] [--replicas T] [--seed S] [--out FILE.html]';

export interface CompareArguments {
  readonly caseId: string;
  readonly protocol: Protocol;
  readonly planFile?: string;
  readonly against?: Protocol;
  readonly cohortDir?: string;
  readonly replicas: number;
  readonly seed: number;
  readonly outFile?: string;
}

/** "Cisplatin; Epirubicin; Lipiodol" (also commas, "+" or "and") → a rule-checked protocol. */
export function parseProtocolText(text: string): Protocol {
  const names = text
    .split(/[;,+]|\band\b/i)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new MewmError('InvalidInput', 'the protocol names no agent');
  const mapped = mapAgentNames(names);
  if (mapped.problems.length > 0) throw new MewmError('UnknownAction', mapped.problems.map((p) => p.detail).join('; '));
  const protocol = canonicalProtocol({ drugs: mapped.drugs, embolics: mapped.embolics });
  if (!isValidProtocol(protocol)) {
    throw new MewmError(
      'RuleViolation',
      `"${text}" breaks ${ruleViolations(protocol)
        .map((v) => `${v.rule} (${v.agents.join(', ')})`)
        .join('; ')}`,
    );
  }
  return protocol;
}

export function parseCompareArguments(argv: readonly string[]): CompareArguments {
  let caseId: string | undefined;
  let protocol: Protocol | undefined;
  let planFile: string | undefined;
  let against: Protocol | undefined;
  let cohortDir: string | undefined;
  let replicas = 4;
  let seed = 1;
  let outFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new MewmError('InvalidInput', `${arg} needs a value`);
      return v;
    };
    const integer = (lo: number, hi: number) => {
      const v = next();
      if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) throw new MewmError('InvalidInput', `${arg} needs an integer in ${lo}..${hi}`);
      return Number(v);
    };
    switch (arg) {
      case '--protocol':
        protocol = parseProtocolText(next());
        break;
      case '--against':
        against = parseProtocolText(next());
        break;
      case '--plan':
        planFile = next();
        break;
      case '--cohort':
        cohortDir = next();
        break;
      case '--replicas':
        replicas = integer(1, 64);
        break;
      case '--seed':
        seed = integer(0, 0xffffffff);
        break;
      case '--out':
        outFile = next();
        break;
      default:
        if (arg.startsWith('--')) throw new MewmError('InvalidInput', `unknown argument "${arg}"`);
        if (caseId !== undefined) throw new MewmError('InvalidInput', `unexpected argument "${arg}"`);
        caseId = arg;
    }
  }
  if (!caseId) throw new MewmError('InvalidInput', 'the case id is required');
  if (!protocol) throw new MewmError('InvalidInput', '--protocol is required');
  if ((planFile === undefined) === (against === undefined))
    throw new MewmError('InvalidInput', 'give MeWM\'s protocol with either --plan PLAN.json or --against "…"');
  return {
    caseId,
    protocol,
    replicas,
    seed,
    ...(planFile ? { planFile } : {}),
    ...(against ? { against } : {}),
    ...(cohortDir ? { cohortDir } : {}),
    ...(outFile ? { outFile } : {}),
  };
}

/** Simulates, segments and scores `protocol` with one replica per seed. */
export async function simulateProtocol(
  world: WorldModel,
  caseId: string,
  pre: LabelledCt,
  protocol: Protocol,
  seeds: readonly number[],
  role: string,
): Promise<ComparedProtocol> {
  const [posts] = await world.dynamics.simulate([{ caseId, pre, protocol, seeds }]);
  if (!posts || posts.length !== seeds.length)
    throw new MewmError('ModelContract', `case ${caseId}: the dynamics model returned ${posts?.length ?? 0} replicas for ${seeds.length} seeds`);
  const z = largestTumourSlice(pre.labels);
  const risks: number[] = [];
  const images = [];
  for (let r = 0; r < posts.length; r++) {
    const ct = posts[r]!;
    const labels = await world.assistant.segment({ caseId, ct });
    risks.push(await world.heuristic.risk({ caseId, pre, post: { ct, labels } }));
    const slice = renderAxialSlice(ct, z, { labels });
    images.push({ caption: `${role}, replica ${r}: risk ${risks[r]!.toFixed(3)}`, png: encodePng(slice.rgba, slice.width, slice.height) });
  }
  return { role, protocol, replicaRisks: risks, replicas: images };
}

async function compare(args: CompareArguments, env: Env): Promise<0> {
  let world: WorldModel | undefined;
  try {
    const config = loadConfig({ env });
    const cohortDir = args.cohortDir ?? config.worldModel.oracleCohortDir;
    if (!cohortDir) throw new MewmError('InvalidConfig', 'no cohort: pass --cohort DIR or set MEWM_ORACLE_COHORT');
    let reference: Protocol;
    if (args.planFile) {
      const plan = JSON.parse(await readFile(args.planFile, 'utf8')) as { schema?: string; caseId?: string; protocol?: Protocol };
      if (plan.schema !== 'mewm.plan/1' || !plan.protocol) throw new MewmError('InvalidInput', 'the --plan file is not a mewm.plan/1 result');
      if (plan.caseId !== args.caseId) throw new MewmError('InvalidInput', `the --plan file is the plan of case ${plan.caseId}, not ${args.caseId}`);
      reference = canonicalProtocol(plan.protocol);
    } else {
      reference = args.against!;
    }
    const row = (await readSyntheticManifest(cohortDir, ['preCt', 'preLabels'])).find((r) => r.caseId === args.caseId);
    if (!row) throw new MewmError('InvalidInput', `case ${args.caseId} is not in the cohort's manifest.jsonl`);
    // The ROI as the planner builds it (tumour-centred, RAS, planning spacing and size).
    const { roi: pre } = planningRoi(args.caseId, await readPreTreatment(cohortDir, row), config.planning);
    world = await createWorldModel({ ...config.worldModel, oracleCohortDir: cohortDir });
    const seedsFor = (p: Protocol) => Array.from({ length: args.replicas }, (_, r) => deriveSeed(args.seed, 'compare', args.caseId, protocolKey(p), r));
    const proposed = await simulateProtocol(world, args.caseId, pre, args.protocol, seedsFor(args.protocol), 'Physician');
    const mewm = await simulateProtocol(world, args.caseId, pre, reference, seedsFor(reference), 'MeWM');
    const a = summariseRisks(proposed.replicaRisks);
    const b = summariseRisks(mewm.replicaRisks);
    process.stdout.write(
      `${args.caseId}\n  physician: ${protocolLabel(args.protocol)}  risk ${a.mean.toFixed(4)} ± ${a.sd.toFixed(4)}\n  MeWM:      ${protocolLabel(reference)}  risk ${b.mean.toFixed(4)} ± ${b.sd.toFixed(4)}\n  difference (physician − MeWM): ${(a.mean - b.mean).toFixed(4)}\n`,
    );
    const html = renderComparisonReport({
      caseId: args.caseId,
      preCt: renderKeySlices(pre, 2).map((png, i) => ({ caption: `pre-CT key slice ${i + 1}`, png })),
      proposed,
      reference: mewm,
      models: [world.dynamics.identity, world.assistant.identity, world.heuristic.identity],
      seed: args.seed,
    });
    const out = args.outFile ?? `compare-${args.caseId}.html`;
    await writeFile(out, html);
    process.stderr.write(`mewm compare: ${out}\n`);
    return 0;
  } finally {
    await world?.close();
  }
}

export const compareCommand: Command<CompareArguments> = {
  name: 'compare',
  usage: USAGE,
  parse: parseCompareArguments,
  run: (args, { env }) => compare(args, env),
};

export function runCompare(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(compareCommand, argv, env);
}
