/**
 * The oracle world model: the synthetic world's own truth behind the `WorldModel` contract, an
 * upper bound for the planner and a way to test the search without learned models.
 *
 * - dynamics: `simulateResponse` of the case's phenotype on the given pre ROI, one replica per
 *   seed (bit-identical for the same seeds).
 * - assistant: the true post labels of a CT this oracle rendered (looked up by the sha256 of its
 *   voxels). A CT it did not render (e.g. rendered in another process) is segmented from the
 *   phenotype instead: liver = the analytic liver shape; tumour = voxels inside a lesion's
 *   pre-treatment envelope whose HU differs from the post-treatment liver median by more than
 *   25 HU (approximate; documented as such).
 * - heuristic: the true risk (`riskFromState`) evaluated on what it is given plus the hidden
 *   phenotype looked up by caseId in truth.jsonl. It measures exactly two numbers from the images:
 *     viableRatio = #(post label 2 with viableMin ≤ HU < lipiodolMin) / #(pre label 2)
 *     toxicity    = (median pre liver HU − median post liver HU) / TOXICITY_HU_PER_UNIT
 *   (label 1 voxels; both counts on the planning grid), and takes tumour volume, liver reserve,
 *   lesion count and frailty from the phenotype. Lesions outside the ROI are assumed to respond
 *   like those inside it.
 * identity.sha256 = sha256 of the cohort's world.json bytes.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MewmError } from '../core/errors';
import { Label, makeVolume, voxelCount, type LabelledCt, type Volume } from '../core/volume/volume';
import type { AssistantModel, DynamicsModel, HeuristicModel, ModelIdentity, ModelRole, SimulationRequest, WorldModel } from '../models/world-model';
import { WORLD_VERSION } from './cohort';
import { insideLiver } from './phantom';
import { lesionRho, type Phenotype } from './phenotype';
import { POST_TUMOUR_HU, robustLabelStats, simulateResponse, TOXICITY_HU_PER_UNIT } from './response';
import { riskFromState, type RiskInputs } from './survival';

export interface OracleOptions {
  /** A folder written by `mewm synth` (reads world.json and truth.jsonl). */
  readonly cohortDir: string;
  /** Budget for remembered post labels, bytes (default 256 MiB). */
  readonly maxCachedLabelBytes?: number;
}

export interface OracleTruth {
  /** The exact bytes of world.json (hashed into the identity). */
  readonly worldJson: Uint8Array;
  readonly phenotypes: ReadonlyMap<string, Phenotype>;
}

export async function readOracleTruth(cohortDir: string): Promise<OracleTruth> {
  let worldJson: Uint8Array;
  let truthText: string;
  try {
    worldJson = await readFile(join(cohortDir, 'world.json'));
    truthText = await readFile(join(cohortDir, 'truth.jsonl'), 'utf8');
  } catch (error) {
    throw new MewmError('InvalidInput', 'the oracle needs a cohort folder with world.json and truth.jsonl (run `mewm synth`)', { cohortDir }, { cause: error });
  }
  const phenotypes = new Map<string, Phenotype>();
  truthText.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let record: { caseId?: unknown; phenotype?: Phenotype };
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new MewmError('InvalidInput', `truth.jsonl line ${index + 1} is not JSON`, { line: index + 1 }, { cause: error });
    }
    const phenotype = record.phenotype;
    if (
      typeof record.caseId !== 'string' ||
      !phenotype ||
      !Array.isArray(phenotype.lesions) ||
      phenotype.lesions.length === 0 ||
      !phenotype.anatomy ||
      !phenotype.biology
    ) {
      throw new MewmError('InvalidInput', `truth.jsonl line ${index + 1} has no usable caseId and phenotype`, { line: index + 1 });
    }
    phenotypes.set(record.caseId, phenotype);
  });
  return { worldJson, phenotypes };
}

/** Builds the oracle from a cohort folder. */
export async function createOracleWorldModel(options: OracleOptions): Promise<WorldModel> {
  const truth = await readOracleTruth(options.cohortDir);
  return createOracleWorldModelFromTruth(truth, options.maxCachedLabelBytes === undefined ? {} : { maxCachedLabelBytes: options.maxCachedLabelBytes });
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function volumeKey(ct: Volume<Float32Array>): string {
  const hash = createHash('sha256');
  hash.update(new Uint8Array(ct.data.buffer, ct.data.byteOffset, ct.data.byteLength));
  hash.update(ct.shape.join('x'));
  hash.update(ct.affine.join(','));
  return hash.digest('hex');
}

/** Measures the heuristic's two inputs from a pre/post pair on one grid. */
export function measureResponse(pre: LabelledCt, post: LabelledCt): RiskInputs & { preTumourVoxels: number; postViableVoxels: number } {
  const n = voxelCount(pre.ct.shape);
  if (voxelCount(post.ct.shape) !== n || pre.labels.data.length !== n || post.labels.data.length !== n) {
    throw new MewmError('InvalidInput', 'pre and post CTs and labels must share one grid');
  }
  let preTumourVoxels = 0;
  let postViableVoxels = 0;
  for (let q = 0; q < n; q++) {
    if (pre.labels.data[q] === Label.tumour) preTumourVoxels++;
    if (post.labels.data[q] === Label.tumour) {
      const v = post.ct.data[q]!;
      if (v >= POST_TUMOUR_HU.viableMin && v < POST_TUMOUR_HU.lipiodolMin) postViableVoxels++;
    }
  }
  if (preTumourVoxels === 0) throw new MewmError('InvalidInput', 'the pre-treatment labels hold no tumour voxel: nothing to assess');
  const preLiver = robustLabelStats(pre.ct.data, pre.labels.data, Label.liver);
  const postLiver = robustLabelStats(post.ct.data, post.labels.data, Label.liver);
  const toxicity = preLiver.count > 0 && postLiver.count > 0 ? Math.max(0, (preLiver.median - postLiver.median) / TOXICITY_HU_PER_UNIT) : 0;
  return { viableRatio: postViableVoxels / preTumourVoxels, toxicity, preTumourVoxels, postViableVoxels };
}

/** The phenotype-based segmentation used when a CT was not rendered by this oracle. */
export function segmentFromPhenotype(phenotype: Phenotype, ct: Volume<Float32Array>): Volume<Uint8Array> {
  const [nx, ny] = ct.shape;
  const n = voxelCount(ct.shape);
  const A = ct.affine;
  const labels = new Uint8Array(n);
  const inEnvelope = new Uint8Array(n);
  for (let q = 0; q < n; q++) {
    const i = q % nx;
    const j = Math.floor(q / nx) % ny;
    const k = Math.floor(q / (nx * ny));
    const x = A[0]! * i + A[1]! * j + A[2]! * k + A[3]!;
    const y = A[4]! * i + A[5]! * j + A[6]! * k + A[7]!;
    const z = A[8]! * i + A[9]! * j + A[10]! * k + A[11]!;
    if (!insideLiver(phenotype, x, y, z)) continue;
    labels[q] = Label.liver;
    if (phenotype.lesions.some((lesion) => lesionRho(lesion, x, y, z) < 1)) inEnvelope[q] = 1;
  }
  const outside = new Uint8Array(n);
  for (let q = 0; q < n; q++) outside[q] = labels[q] === Label.liver && !inEnvelope[q] ? Label.liver : 0;
  const liver = robustLabelStats(ct.data, outside, Label.liver);
  const reference = Number.isFinite(liver.median) ? liver.median : phenotype.anatomy.liverHu;
  for (let q = 0; q < n; q++) if (inEnvelope[q] && Math.abs(ct.data[q]! - reference) > 25) labels[q] = Label.tumour;
  return makeVolume(labels, ct.shape, ct.affine);
}

/** The oracle over already-loaded truth (tests, or a planner with the truth in memory). */
export function createOracleWorldModelFromTruth(truth: OracleTruth, options: { maxCachedLabelBytes?: number } = {}): WorldModel {
  const sha256 = sha256Hex(truth.worldJson);
  const identity = (role: ModelRole): ModelIdentity => ({
    role,
    backend: 'oracle',
    name: `synthetic-world-oracle-${role}`,
    version: WORLD_VERSION,
    sha256,
    intendedUse: "the synthetic world's own truth (an upper bound for evaluation), not a model; not for clinical use",
  });
  const phenotypeOf = (caseId: string): Phenotype => {
    const phenotype = truth.phenotypes.get(caseId);
    if (!phenotype) throw new MewmError('InvalidInput', `case ${caseId} is not in this synthetic world (truth.jsonl)`, { caseId });
    return phenotype;
  };
  const budget = options.maxCachedLabelBytes ?? 256 * 1024 * 1024;
  const renderedLabels = new Map<string, Volume<Uint8Array>>();
  let cachedBytes = 0;
  const remember = (ct: Volume<Float32Array>, labels: Volume<Uint8Array>) => {
    const key = volumeKey(ct);
    if (renderedLabels.has(key)) return;
    renderedLabels.set(key, labels);
    cachedBytes += labels.data.byteLength;
    for (const [oldKey, old] of renderedLabels) {
      if (cachedBytes <= budget) break;
      renderedLabels.delete(oldKey);
      cachedBytes -= old.data.byteLength;
    }
  };

  const dynamics: DynamicsModel = {
    identity: identity('dynamics'),
    async simulate(requests: readonly SimulationRequest[]) {
      return requests.map((request) => {
        const phenotype = phenotypeOf(request.caseId);
        if (request.seeds.length === 0)
          throw new MewmError('InvalidInput', `case ${request.caseId}: a simulation needs at least one seed`, { caseId: request.caseId });
        return request.seeds.map((seed) => {
          const { post } = simulateResponse(request.pre, phenotype, request.protocol, seed);
          remember(post.ct, post.labels);
          return post.ct;
        });
      });
    },
  };
  const assistant: AssistantModel = {
    identity: identity('assistant'),
    async segment({ caseId, ct }) {
      const phenotype = phenotypeOf(caseId);
      const known = renderedLabels.get(volumeKey(ct));
      return known ? makeVolume(new Uint8Array(known.data), known.shape, known.affine) : segmentFromPhenotype(phenotype, ct);
    },
  };
  const heuristic: HeuristicModel = {
    identity: identity('heuristic'),
    async risk({ caseId, pre, post }) {
      const phenotype = phenotypeOf(caseId);
      return riskFromState(phenotype, measureResponse(pre, post));
    },
  };
  return {
    dynamics,
    assistant,
    heuristic,
    async close() {
      renderedLabels.clear();
      cachedBytes = 0;
    },
  };
}
