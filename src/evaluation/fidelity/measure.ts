/**
 * Image measurements of one post-treatment CT on the planning ROI, taken the same way on a
 * simulated post-CT (learned dynamics, assistant labels) and on the world's true post-CT (the
 * world's labels), so the two can be compared number for number.
 *
 * HU bands (`POST_TUMOUR_HU` of src/world/response.ts, the bands the world renders with):
 *   lipiodol  HU ≥ 250;  viable  55 ≤ HU < 250;  necrotic  HU < 55.
 *
 * - `post`: shares inside the *post* tumour label (label 2 of the post labels), and its volume
 *   ratio #post tumour / #pre tumour. Depends on dynamics and segmentation together.
 * - `pre`: shares inside the *pre-treatment* tumour mask, post labels ignored: isolates the
 *   dynamics from the assistant. Where the world shrinks a lesion the vacated bed becomes liver
 *   (62–80 HU), which falls in the viable band here: `pre.viable` is "enhancing tissue in the
 *   old tumour bed", not viable tumour.
 * - `liverShiftHu`: median post HU − median pre HU over the pre liver voxels (pre label 1, which
 *   excludes the tumour); the world darkens the liver by TOXICITY_HU_PER_UNIT per toxicity unit.
 * - `viableRatio`: viable-band voxels inside the post tumour label / pre tumour voxels, and
 *   `toxicity` = max(0, −liverShiftHu / TOXICITY_HU_PER_UNIT): the two numbers the world's risk
 *   (`riskFromState`) reads, measured from the images.
 */
import { MewmError } from '../../core/errors';
import { Label, type LabelledCt, type Volume } from '../../core/volume/volume';
import { POST_TUMOUR_HU, robustLabelStats, TOXICITY_HU_PER_UNIT } from '../../world/response';

export interface Shares {
  readonly viable: number;
  readonly necrotic: number;
  readonly lipiodol: number;
}

export interface PostMeasures {
  /** Shares inside the post tumour label, with its volume ratio to the pre tumour. */
  readonly post: Shares & { readonly volumeRatio: number };
  /** Shares inside the pre-treatment tumour mask (post labels ignored). */
  readonly pre: Shares;
  readonly liverShiftHu: number;
  readonly viableRatio: number;
  readonly toxicity: number;
}

function bandShares(ct: Float32Array, inside: (q: number) => boolean): Shares & { count: number } {
  let count = 0;
  let viable = 0;
  let lipiodol = 0;
  for (let q = 0; q < ct.length; q++) {
    if (!inside(q)) continue;
    count++;
    const hu = ct[q]!;
    if (hu >= POST_TUMOUR_HU.lipiodolMin) lipiodol++;
    else if (hu >= POST_TUMOUR_HU.viableMin) viable++;
  }
  // An empty region (the assistant found no tumour) has no composition: all shares 0.
  if (count === 0) return { viable: 0, necrotic: 0, lipiodol: 0, count };
  return { viable: viable / count, lipiodol: lipiodol / count, necrotic: (count - viable - lipiodol) / count, count };
}

/** Measures `post` (CT and its tumour/liver labels) against the pre-treatment ROI `pre`, all on one grid. */
export function measurePost(pre: LabelledCt, post: { readonly ct: Volume<Float32Array>; readonly labels: Volume<Uint8Array> }): PostMeasures {
  const n = pre.ct.data.length;
  if (pre.labels.data.length !== n || post.ct.data.length !== n || post.labels.data.length !== n) {
    throw new MewmError('InvalidInput', 'fidelity measurement: pre and post CTs and labels must share one grid');
  }
  const preLabels = pre.labels.data;
  const postLabels = post.labels.data;
  const inPre = bandShares(post.ct.data, (q) => preLabels[q] === Label.tumour);
  if (inPre.count === 0) throw new MewmError('InvalidInput', 'fidelity measurement: the pre-treatment ROI has no tumour voxel');
  const inPost = bandShares(post.ct.data, (q) => postLabels[q] === Label.tumour);
  const preLiver = robustLabelStats(pre.ct.data, preLabels, Label.liver);
  const postLiver = robustLabelStats(post.ct.data, preLabels, Label.liver);
  const liverShiftHu = preLiver.count > 0 ? postLiver.median - preLiver.median : 0;
  return {
    post: { viable: inPost.viable, necrotic: inPost.necrotic, lipiodol: inPost.lipiodol, volumeRatio: inPost.count / inPre.count },
    pre: { viable: inPre.viable, necrotic: inPre.necrotic, lipiodol: inPre.lipiodol },
    liverShiftHu,
    viableRatio: (inPost.viable * inPost.count) / inPre.count,
    toxicity: Math.max(0, -liverShiftHu / TOXICITY_HU_PER_UNIT),
  };
}
