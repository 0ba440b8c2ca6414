/**
 * What `mewm evaluate` measures against, read from a `mewm synth` cohort folder: manifest.jsonl
 * (src/io/cohort-manifest.ts: split, physician protocol, observed survival), truth.jsonl
 * (phenotype, optimal protocol, expected risks) and world.json (planning horizons); and the rows
 * read from files (`mewm cohort --out` outcomes, `mewm baseline` predictions).
 * Errors name these files by their role, never by path (docs/architecture.md, Privacy).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { MewmError } from '../core/errors';
import { canonicalProtocol, isDrug, isEmbolic, isValidProtocol, protocolKey, type DrugId, type EmbolicId, type Protocol } from '../core/vocabulary';
import { readJsonLines, readSyntheticManifest, type Split, type SyntheticManifestRow } from '../io/cohort-manifest';
import { visibleFindings } from '../world/physician';
import type { Phenotype } from '../world/phenotype';
import type { CaseTruth, CohortOutcomeLike } from './evaluate';

/** drugs and embolics of a protocol; other fields (key, label) are not needed here. */
const protocolRecord = z.object({ drugs: z.array(z.string()), embolics: z.array(z.string()) });
const truthLine = z.object({
  caseId: z.string().min(1),
  phenotype: z.object({ lesions: z.array(z.unknown()).min(1) }).passthrough(),
  goldProtocol: protocolRecord,
  goldExpectedRisk: z.number(),
  physicianExpectedRisk: z.number(),
});
const outcomeLine = z.object({
  caseId: z.string().min(1),
  status: z.enum(['completed', 'failed', 'skipped']).optional(),
  protocol: protocolRecord.optional(),
  risk: z.number().optional(),
  workflowId: z.string().min(1).optional(),
  error: z.unknown().optional(),
});

export function toProtocol(record: { readonly drugs: readonly string[]; readonly embolics: readonly string[] }, where: string): Protocol {
  for (const d of record.drugs) if (!isDrug(d)) throw new MewmError('UnknownAction', `${where}: "${d}" is not a drug of the vocabulary`);
  for (const e of record.embolics) if (!isEmbolic(e)) throw new MewmError('UnknownAction', `${where}: "${e}" is not an embolic of the vocabulary`);
  const protocol = canonicalProtocol({ drugs: record.drugs as DrugId[], embolics: record.embolics as EmbolicId[] });
  if (!isValidProtocol(protocol)) throw new MewmError('RuleViolation', `${where}: protocol breaks a clinical rule`);
  return protocol;
}

export interface LoadedCohort {
  readonly truth: CaseTruth[];
  readonly phenotypes: ReadonlyMap<string, Phenotype>;
  readonly manifest: ReadonlyMap<string, SyntheticManifestRow>;
  readonly horizons: { readonly maxDrugs: number; readonly maxEmbolics: number };
}

/** The evaluated split of a `mewm synth` cohort with its truth: protocols, expected risks, survival, visible features. */
export async function loadCohortTruth(cohortDir: string, split: Split | 'all'): Promise<LoadedCohort> {
  const manifest = await readSyntheticManifest(cohortDir);
  const truthRows = await readJsonLines(join(cohortDir, 'truth.jsonl'), truthLine, "the cohort's truth.jsonl");
  let horizons = { maxDrugs: 2, maxEmbolics: 2 };
  try {
    const world = JSON.parse(await readFile(join(cohortDir, 'world.json'), 'utf8')) as { horizons?: { maxDrugs?: unknown; maxEmbolics?: unknown } };
    if (typeof world.horizons?.maxDrugs === 'number' && typeof world.horizons.maxEmbolics === 'number')
      horizons = { maxDrugs: world.horizons.maxDrugs, maxEmbolics: world.horizons.maxEmbolics };
  } catch {
    // Older cohorts have no world.json: the world's default horizons apply.
  }
  const truthById = new Map(truthRows.map((t) => [t.caseId, t]));
  const selected = manifest.filter((m) => split === 'all' || m.split === split);
  if (selected.length === 0) throw new MewmError('InvalidInput', `the cohort has no ${split} cases`);
  const phenotypes = new Map<string, Phenotype>();
  const truth: CaseTruth[] = selected.map((m) => {
    const t = truthById.get(m.caseId);
    if (!t) throw new MewmError('InvalidInput', `case ${m.caseId} is in manifest.jsonl but not in truth.jsonl`);
    const phenotype = t.phenotype as unknown as Phenotype;
    phenotypes.set(m.caseId, phenotype);
    const optimal = toProtocol(t.goldProtocol, `truth.jsonl ${m.caseId} goldProtocol`);
    const physician = toProtocol(m.protocol, `manifest.jsonl ${m.caseId} protocol`);
    const findings = visibleFindings(phenotype);
    return {
      caseId: m.caseId,
      optimalProtocol: optimal,
      physicianProtocol: physician,
      expectedRisk: { [protocolKey(optimal)]: t.goldExpectedRisk, [protocolKey(physician)]: t.physicianExpectedRisk },
      survival: { timeMonths: m.osMonths, event: m.event === 1 },
      features: { largestDiameterMm: findings.largestDiameterMm, lesionCount: findings.lesionCount, meanEnhancementHu: findings.meanEnhancementHu },
    };
  });
  return { truth, phenotypes, manifest: new Map(manifest.map((m) => [m.caseId, m])), horizons };
}

/** Cohort case outcomes from a --mewm, --ablation or --llm file; `role` names the file in errors. */
export async function readOutcomes(
  file: string,
  role: string,
  truthIds: ReadonlySet<string>,
): Promise<(CohortOutcomeLike & { readonly workflowId?: string })[]> {
  const rows = await readJsonLines(file, outcomeLine, role);
  return rows
    .filter((r) => truthIds.has(r.caseId))
    .map((r) => {
      // `skipped`: planned by an earlier run of the cohort (a resumed `mewm cohort`), with that plan's protocol.
      const completed = (r.status ?? 'completed') !== 'failed' && r.protocol !== undefined;
      return {
        caseId: r.caseId,
        status: completed ? ('completed' as const) : ('failed' as const),
        ...(completed ? { protocol: toProtocol(r.protocol!, `${role}, case ${r.caseId}`) } : {}),
        ...(r.risk !== undefined ? { risk: r.risk } : {}),
        ...(r.workflowId !== undefined ? { workflowId: r.workflowId } : {}),
      };
    });
}
