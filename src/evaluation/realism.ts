/**
 * What a world model is measured on in `mewm evaluate`, per case on the planner's ROI
 * (src/core/volume/roi.ts):
 * - simulation realism (first `realismCases` cases, T = `realismReplicas`; none when 0): the
 *   physician's protocol (what the true post-CT shows) is simulated and compared with the true
 *   post-treatment CT: tumour composition error, SSIM/PSNR inside the pre-treatment tumour region
 *   on the paper's HU window [−175, 600], and the feature distance in our own encoder
 *   (./feature-distance.ts: the Fréchet distance between latent-position Gaussians, not the paper's FID);
 * - the learned survival heuristic (`scoreHeuristic`, every case): H_surv on the pre-CT and the
 *   true post-CT with its true mask, a risk score for the survival table.
 * The world model and the encoder are the caller's (built from the configuration, closed by it).
 */
import { join } from 'node:path';
import { deriveSeed } from '../core/random';
import { protocolKey } from '../core/vocabulary';
import { resampleToGrid } from '../core/volume/resample';
import { resampleToRoi, roiGrid, tumourCentreMm } from '../core/volume/roi';
import { Label, type LabelledCt, type Volume, type VoxelArray } from '../core/volume/volume';
import { readPreTreatment } from '../io/cohort-manifest';
import { readNifti } from '../io/nifti';
import { centroidOf } from '../models/onnx/resample';
import type { WorldModel } from '../models/world-model';
import { POST_TUMOUR_HU } from '../world/response';
import type { LoadedCohort } from './cohort-truth';
import type { RealismSample, SurvivalScore } from './evaluate';
import { featureDistance, type FeatureEncoder } from './feature-distance';
import { clipped, compositionError, psnr, ssim, tumourComposition } from './image-metrics';

/** The paper's intensity window for TACE response, HU. */
export const REALISM_WINDOW_HU = [-175, 600] as const;

export interface WorldModelMeasurementOptions {
  readonly cohortDir: string;
  /** Seeds of the simulated replicas derive from it. */
  readonly seed: number;
  /** Replicas per case (0 = no realism samples). */
  readonly realismReplicas: number;
  /** At most this many cases get realism simulations (the first ones). */
  readonly realismCases: number;
  readonly roi: { readonly roiSize: readonly [number, number, number]; readonly roiSpacingMm: number };
  /** Score every case with the world model's learned survival heuristic. */
  readonly scoreHeuristic: boolean;
  readonly log?: (line: string) => void;
}

/** Realism samples and the heuristic's survival scores (null unless `scoreHeuristic`). */
export async function measureWorldModel(
  world: WorldModel,
  encoder: FeatureEncoder | null,
  cohort: LoadedCohort,
  options: WorldModelMeasurementOptions,
): Promise<{ realism: RealismSample[]; heuristic: SurvivalScore | null }> {
  const { cohortDir, realismReplicas, scoreHeuristic } = options;
  const log = options.log ?? (() => {});
  const samples: RealismSample[] = [];
  const risks: Record<string, number> = {};
  const [lo, hi] = REALISM_WINDOW_HU;
  for (const [index, t] of cohort.truth.entries()) {
    const withRealism = realismReplicas > 0 && index < options.realismCases;
    if (!withRealism && !scoreHeuristic) break;
    const row = cohort.manifest.get(t.caseId)!;
    const source = await readPreTreatment(cohortDir, row);
    const trueCt = await readNifti(join(cohortDir, row.postCt));
    const trueLabels = await readNifti(join(cohortDir, row.postLabels));
    const grid = roiGrid(tumourCentreMm(t.caseId, source.labels), options.roi.roiSize, options.roi.roiSpacingMm);
    const linear = (v: Volume) => resampleToGrid(v, grid.shape, grid.affine, 'linear', { outside: -1024 });
    const nearest = <T extends VoxelArray>(v: Volume<T>) => resampleToGrid(v, grid.shape, grid.affine, 'nearest', { outside: 0 });
    const pre: LabelledCt = resampleToRoi(source, grid);
    const truePost: LabelledCt = { ct: linear(trueCt), labels: nearest(trueLabels) as Volume<Uint8Array> };
    const region = Uint8Array.from(pre.labels.data, (l) => (l === Label.tumour ? 1 : 0));
    if (!region.includes(1)) continue;
    if (scoreHeuristic) risks[t.caseId] = await world.heuristic.risk({ caseId: t.caseId, pre, post: truePost });
    if (!withRealism) continue;
    const isTumour = (labels: ArrayLike<number>) => Uint8Array.from({ length: labels.length }, (_, i) => (labels[i] === Label.tumour ? 1 : 0));
    const truth = tumourComposition(region, truePost.ct.data, isTumour(truePost.labels.data), POST_TUMOUR_HU);
    const seeds = Array.from({ length: realismReplicas }, (_, r) => deriveSeed(options.seed, 'realism', t.caseId, r));
    const [posts] = await world.dynamics.simulate([{ caseId: t.caseId, pre, protocol: t.physicianProtocol, seeds }]);
    const centre = centroidOf(pre.labels, Label.tumour)!;
    for (const ct of posts ?? []) {
      const labels = await world.assistant.segment({ caseId: t.caseId, ct });
      const simulated = tumourComposition(region, ct.data, isTumour(labels.data), POST_TUMOUR_HU);
      const images = { shape: grid.shape, reference: clipped(truePost.ct.data, lo, hi), test: clipped(ct.data, lo, hi), region, dataRange: hi - lo };
      const features = encoder ? await featureDistance(encoder, [{ reference: truePost.ct, simulated: ct, centre }]) : null;
      samples.push({
        caseId: t.caseId,
        protocolKey: protocolKey(t.physicianProtocol),
        compositionError: compositionError(simulated, truth),
        ssim: ssim(images),
        psnr: psnr(images),
        ...(features ? { featureDistance: features.pairs[0]!.frechet } : {}),
      });
    }
  }
  if (realismReplicas > 0) {
    const encoderNote = encoder
      ? `; feature distance: latent Fréchet distance in the encoder of ${encoder.identity.name} ${encoder.identity.version} (sha256 ${encoder.identity.sha256.slice(0, 12)}), our own model, not the paper's FID`
      : '';
    log(
      `realism: ${samples.length} simulated replicas compared with the true post-treatment CT (${world.dynamics.identity.backend} world model${encoderNote})`,
    );
  }
  const h = world.heuristic.identity;
  const heuristic = scoreHeuristic
    ? { name: 'heuristic-onnx', label: `learned heuristic ${h.name} ${h.version} on pre-CT + true post-CT (sha256 ${h.sha256.slice(0, 12)})`, risk: risks }
    : null;
  if (heuristic) log(`survival: ${Object.keys(risks).length} cases scored by the learned heuristic ${h.name} ${h.version}`);
  return { realism: samples, heuristic };
}
