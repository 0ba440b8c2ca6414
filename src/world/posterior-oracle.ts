/**
 * The posterior-oracle world model: the honest ceiling for an image-based planner. It knows only
 * the visible phenotype of a case (what the pre-CT shows, ./posterior.ts) and scores a simulated
 * candidate by the posterior expected risk of its protocol: the world's true expected risk
 * averaged over K draws of the hidden biology given the visible features.
 *
 * Behind the `WorldModel` contract so that it plans with the same search as every other backend
 * (Algorithm 1 through the planning workflows):
 * - dynamics: `simulateResponse` of one posterior draw (draw 0; "what the pre-CT suggests") on
 *   the given ROI, one replica per seed; it records which protocol each CT it rendered shows.
 * - assistant: the exact labels of a CT its dynamics rendered in this process (a small LRU: the
 *   planner segments right after simulating), else the phenotype-based segmentation of
 *   ./oracle.ts on the visible shapes. The heuristic does not read labels.
 * - heuristic: the posterior expected risk of the protocol its dynamics rendered the CT for,
 *   the same for every replica (no replica noise); a CT it did not render in this process is an
 *   error, not a guess: run its dynamics and heuristic in one worker (`mewm evaluate` does).
 *
 * With `knownBiology` every draw is the case's true biology (a degenerate prior): the risk is then
 * exactly the full oracle's expected risk (`expectedRisk` of the true phenotype), without the
 * full oracle's image measurement and replica noise.
 *
 * identity.sha256 = sha256 of the cohort's world.json bytes; identity.version names K and the seed.
 */
import { createHash } from 'node:crypto';
import { MewmError } from '../core/errors';
import { protocolKey, type Protocol } from '../core/vocabulary';
import { makeVolume, type Volume } from '../core/volume/volume';
import type { AssistantModel, DynamicsModel, HeuristicModel, ModelIdentity, ModelRole, WorldModel } from '../models/world-model';
import { WORLD_VERSION } from './cohort';
import { readOracleTruth, segmentFromPhenotype, type OracleTruth } from './oracle';
import type { Phenotype } from './phenotype';
import {
  DEFAULT_POSTERIOR_DRAWS,
  DEFAULT_POSTERIOR_SEED,
  knownBiology,
  PosteriorRiskTable,
  samplePosterior,
  visiblePhenotype,
  type PosteriorSample,
} from './posterior';
import { simulateResponse } from './response';

/** Label maps kept for the assistant (a 96³ map is 0.9 MB). */
const RECENT_LABELS = 64;

export interface PosteriorOracleOptions {
  /** K, posterior draws per case (default 512). */
  readonly draws?: number;
  /** Seed of the posterior draws (default DEFAULT_POSTERIOR_SEED). */
  readonly seed?: number;
  /** The degenerate prior: every draw is the case's true hidden biology (= the full oracle's exact risk). */
  readonly knownBiology?: boolean;
}

export interface PosteriorOracle extends WorldModel {
  /** The posterior draws of a case (computed once per case and kept). */
  posterior(caseId: string): PosteriorSample;
  /** The posterior expected risk of a protocol for a case, with its Monte-Carlo standard error. */
  posteriorRisk(caseId: string, protocol: Protocol): { readonly mean: number; readonly standardError: number };
}

export async function createPosteriorOracleWorldModel(options: PosteriorOracleOptions & { readonly cohortDir: string }): Promise<PosteriorOracle> {
  return createPosteriorOracleFromTruth(await readOracleTruth(options.cohortDir), options);
}

/** Content key of a rendered CT: its voxels and shape (the affine may round-trip through float32 in NIfTI). */
function ctKey(ct: Volume<Float32Array>): string {
  const hash = createHash('sha256');
  hash.update(new Uint8Array(ct.data.buffer, ct.data.byteOffset, ct.data.byteLength));
  hash.update(ct.shape.join('x'));
  return hash.digest('hex');
}

export function posteriorOracleVersion(options: PosteriorOracleOptions): string {
  const k = options.draws ?? DEFAULT_POSTERIOR_DRAWS;
  return options.knownBiology ? `${WORLD_VERSION}+known-biology` : `${WORLD_VERSION}+posterior-k${k}-seed${options.seed ?? DEFAULT_POSTERIOR_SEED}`;
}

export function createPosteriorOracleFromTruth(truth: OracleTruth, options: PosteriorOracleOptions = {}): PosteriorOracle {
  const sha256 = createHash('sha256').update(truth.worldJson).digest('hex');
  const version = posteriorOracleVersion(options);
  const identity = (role: ModelRole): ModelIdentity => ({
    role,
    backend: 'oracle',
    name: `synthetic-world-posterior-oracle-${role}`,
    version,
    sha256,
    intendedUse: options.knownBiology
      ? "the synthetic world's exact expected risk with the hidden biology known (the full oracle without image noise), not a model; not for clinical use"
      : "the synthetic world's true risk averaged over the hidden biology given what the pre-CT shows (the ceiling for an image-based planner), not a model; not for clinical use",
  });
  const phenotypeOf = (caseId: string): Phenotype => {
    const phenotype = truth.phenotypes.get(caseId);
    if (!phenotype) throw new MewmError('InvalidInput', `case ${caseId} is not in this synthetic world (truth.jsonl)`, { caseId });
    return phenotype;
  };
  const tables = new Map<string, PosteriorRiskTable>();
  const tableOf = (caseId: string): PosteriorRiskTable => {
    let table = tables.get(caseId);
    if (!table) {
      const phenotype = phenotypeOf(caseId);
      const sample = samplePosterior(visiblePhenotype(phenotype), {
        ...(options.knownBiology ? { draws: 1, sampler: knownBiology(phenotype.biology) } : {}),
        ...(!options.knownBiology && options.draws !== undefined ? { draws: options.draws } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
      });
      table = new PosteriorRiskTable(sample);
      tables.set(caseId, table);
    }
    return table;
  };
  // Which case and protocol each CT rendered here shows (keys: ctKey).
  const rendered = new Map<string, { caseId: string; protocol: Protocol }>();
  // The labels of the most recently rendered CTs (the assistant is asked right after the dynamics).
  const recentLabels = new Map<string, Volume<Uint8Array>>();
  const rememberLabels = (key: string, labels: Volume<Uint8Array>) => {
    recentLabels.delete(key);
    recentLabels.set(key, labels);
    for (const old of recentLabels.keys()) {
      if (recentLabels.size <= RECENT_LABELS) break;
      recentLabels.delete(old);
    }
  };

  const dynamics: DynamicsModel = {
    identity: identity('dynamics'),
    async simulate(requests) {
      return requests.map((request) => {
        if (request.seeds.length === 0)
          throw new MewmError('InvalidInput', `case ${request.caseId}: a simulation needs at least one seed`, { caseId: request.caseId });
        const shown = tableOf(request.caseId).sample.draws[0]!;
        return request.seeds.map((seed) => {
          const { post } = simulateResponse(request.pre, shown, request.protocol, seed);
          const key = ctKey(post.ct);
          const earlier = rendered.get(key);
          if (earlier && (earlier.caseId !== request.caseId || protocolKey(earlier.protocol) !== protocolKey(request.protocol))) {
            throw new MewmError(
              'Internal',
              `case ${request.caseId}: two protocols rendered to the same CT (${protocolKey(earlier.protocol)}, ${protocolKey(request.protocol)})`,
              { caseId: request.caseId },
            );
          }
          rendered.set(key, { caseId: request.caseId, protocol: request.protocol });
          rememberLabels(key, post.labels);
          return post.ct;
        });
      });
    },
  };
  const assistant: AssistantModel = {
    identity: identity('assistant'),
    async segment({ caseId, ct }) {
      const known = recentLabels.get(ctKey(ct));
      return known ? makeVolume(new Uint8Array(known.data), known.shape, known.affine) : segmentFromPhenotype(tableOf(caseId).sample.draws[0]!, ct);
    },
  };
  const heuristic: HeuristicModel = {
    identity: identity('heuristic'),
    async risk({ caseId, post }) {
      const shown = rendered.get(ctKey(post.ct));
      if (!shown || shown.caseId !== caseId) {
        throw new MewmError(
          'InvalidInput',
          `case ${caseId}: the posterior oracle scores only post-CTs its own dynamics rendered in this process (its risk is the posterior expected risk of the rendered protocol); run its dynamics and heuristic in one worker`,
          { caseId },
        );
      }
      return tableOf(caseId).risk(shown.protocol).mean;
    },
  };
  return {
    dynamics,
    assistant,
    heuristic,
    posterior: (caseId) => tableOf(caseId).sample,
    posteriorRisk: (caseId, protocol) => tableOf(caseId).risk(protocol),
    async close() {
      rendered.clear();
      recentLabels.clear();
      tables.clear();
    },
  };
}
