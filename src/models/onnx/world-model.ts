/**
 * The `WorldModel` backed by ONNX models (`backend: onnx`): a model folder holding
 * `dynamics/`, `assistant/` and `heuristic/`, each with `manifest.json` and its graphs. Manifests
 * and sha256 are checked before any session exists; all sessions live in one worker thread for
 * the life of the world model.
 *
 * - Dynamics f_DM(x0, m0, a): a `P`³ patch on the model grid, centred on the tumour centroid,
 *   is cut from the pre-CT (HU → manifest range); the tumour is masked out (x·(1 − m)) and
 *   encoded; every replica of every request is sampled in TypeScript (`sampler.ts`) with the
 *   denoiser conditioned on that latent, the mask and the action tensors, batched up to
 *   `maxBatch` replicas per call; latents are decoded and pasted back onto the planning grid
 *   around the tumour (dilated-mask blend), the rest of the CT left as it was.
 * - Assistant H_seg: the CT is resampled onto the model grid, segmented by Gaussian-blended
 *   sliding windows, logits resampled back, argmax, largest organ component kept.
 * - Heuristic H_surv: risk averaged over the manifest's crops around the tumour centroid.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { forEachConcurrently } from '../../core/concurrency';
import { MewmError } from '../../core/errors';
import { canonicalProtocol, protocolAgents, type Protocol } from '../../core/vocabulary';
import { Label, makeVolume, spacingOf, voxelCount, type LabelledCt, type Volume } from '../../core/volume/volume';
import { denormaliseToHu, loadModelManifest, normaliseHu, readVerifiedFile, type LoadedManifest, type ManifestFor } from '../manifest';
import type { AssistantModel, DynamicsModel, ExpectedResponse, HeuristicModel, ModelIdentity, SegmentationFocus, SimulationRequest, WorldModel } from '../world-model';
import { focusOf } from './focus';
import { keepLargestOrgan } from './postprocess';
import { axisTaps, binaryMask, centroidOf, dilatedMask, pastePatch, resampleToModelGrid, samplePatch, stepRatio, type Xyz } from './resample';
import { makeNoiseSchedule, sample, type SamplerMethod } from './sampler';
import { float32, OnnxSessionHost, type ExecutionProvider } from './session-host';
import { extractWindow, slidingWindowInference } from './sliding-window';

export interface SamplerSettings {
  readonly method: SamplerMethod;
  readonly steps: number;
  /** DDIM only. */
  readonly eta?: number;
}

export interface OnnxWorldModelOptions {
  /** Folder with `dynamics/`, `assistant/`, `heuristic/` model folders. */
  readonly modelDir: string;
  readonly executionProvider?: ExecutionProvider;
  readonly intraOpNumThreads?: number;
  /** Most samples per model call (replicas × candidates for the denoiser, windows/crops otherwise). */
  readonly maxBatch?: number;
  /** Default: DPM-Solver++(2M), 10 steps (chosen by `mewm fidelity`, docs/fidelity.md). The paper's sampler is `{ method: 'ddpm', steps: 1000 }` (MEWM_PRESET=paper). */
  readonly sampler?: SamplerSettings;
  /** Planning-grid voxels around the tumour that the simulated patch may replace. */
  readonly pasteMarginMm?: number;
  /** ONNX session threads (each with every graph, one intra-op thread each); results do not depend on it. Default 1. */
  readonly sessionWorkers?: number;
  readonly log?: Pick<pino.Logger, 'warn' | 'info'>;
}

export const DEFAULT_SAMPLER: SamplerSettings = { method: 'dpm-solver++', steps: 10 };

/** Model voxels of context the focused segmenter reads beyond the box whose labels it replaces. */
const FOCUS_CONTEXT_VOXELS = 2;

interface TextTable {
  readonly dim: number;
  readonly features: Readonly<Record<string, readonly number[]>>;
}

function identityOf(loaded: LoadedManifest): ModelIdentity {
  const m = loaded.manifest;
  return { role: m.role, backend: 'onnx', name: m.name, version: m.version, sha256: loaded.sha256, intendedUse: m.intendedUse };
}

function tumourCentre(labels: Volume<Uint8Array>): Xyz {
  return centroidOf(labels, Label.tumour) ?? centroidOf(labels, Label.liver) ?? (labels.shape.map((n) => (n - 1) / 2) as unknown as Xyz);
}

function checkLabelledCt(what: string, caseId: string, ct: LabelledCt): void {
  if (ct.ct.data.length !== voxelCount(ct.ct.shape) || ct.labels.data.length !== voxelCount(ct.labels.shape) || ct.ct.shape.some((n, i) => n !== ct.labels.shape[i])) {
    throw new MewmError('InvalidInput', `${what} of case ${caseId}: CT and labels must share one grid`, { caseId });
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Action tensors of Eq. 1 for one protocol, from the manifest's agent order and text table. */
export function actionTensors(protocol: Protocol, manifest: ManifestFor<'dynamics'>, table: TextTable | undefined): { concepts: Float32Array; text: Float32Array; mask: Float32Array } {
  const { agents, maxAgents } = manifest.action;
  const chosen = protocolAgents(canonicalProtocol(protocol));
  const concepts = new Float32Array(agents.length);
  const text = new Float32Array(maxAgents * (table?.dim ?? 0));
  const mask = new Float32Array(maxAgents);
  const ordered = agents.filter((a) => (chosen as readonly string[]).includes(a));
  const unknown = chosen.filter((a) => !agents.includes(a));
  if (unknown.length > 0) throw new MewmError('UnknownAction', `the dynamics model ${manifest.name} was not trained on: ${unknown.join(', ')}`, { agents: unknown });
  if (ordered.length > maxAgents) throw new MewmError('InvalidInput', `protocol has ${ordered.length} agents; the dynamics model takes at most ${maxAgents}`);
  ordered.forEach((agent, slot) => {
    concepts[agents.indexOf(agent)] = 1;
    mask[slot] = 1;
    if (table === undefined) return;
    const features = table.features[agent];
    if (!features || features.length !== table.dim) throw new MewmError('ModelContract', `text feature table lacks ${agent}`);
    text.set(features, slot * table.dim);
  });
  return { concepts, text, mask };
}

class OnnxDynamics implements DynamicsModel {
  readonly identity: ModelIdentity;
  private readonly schedule;

  constructor(
    private readonly host: OnnxSessionHost,
    private readonly loaded: LoadedManifest<ManifestFor<'dynamics'>>,
    private readonly table: TextTable | undefined,
    private readonly sampler: SamplerSettings,
    private readonly maxBatch: number,
    private readonly pasteMarginMm: number,
  ) {
    this.identity = identityOf(loaded);
    this.schedule = makeNoiseSchedule(loaded.manifest.scheduler);
  }

  async simulate(requests: readonly SimulationRequest[]): Promise<Volume<Float32Array>[][]> {
    const m = this.loaded.manifest;
    const P = m.patchSizeZyx[0];
    const C = m.latent.channels;
    const p = P / m.latent.downsample;
    const latentSize = C * p * p * p;
    const patchSize = P * P * P;
    const fillHu = m.intensity.windowHu[0] - 1000;

    const responseConditioned = m.action.conditioning === 'response';
    for (const r of requests) if (r.seeds.length === 0) throw new MewmError('InvalidInput', `simulation request for case ${r.caseId} has no seeds`, { caseId: r.caseId });
    const prepared = this.prepare(requests);

    const maskedLatents: Float32Array[] = [];
    for (const group of chunks(prepared, this.maxBatch)) {
      const batch = new Float32Array(group.length * patchSize);
      group.forEach((g, i) => batch.set(g.masked, i * patchSize));
      const { data } = await this.host.runFloat('dynamics/encoder', { image: float32([group.length, 1, P, P, P], batch) }, 'latent');
      group.forEach((_, i) => maskedLatents.push(data.slice(i * latentSize, (i + 1) * latentSize)));
    }
    const responses = responseConditioned ? await this.expectedResponses(prepared) : undefined;

    const replicas = prepared.flatMap((g, r) => g.request.seeds.map((seed, s) => ({ r, s, seed })));
    const latents = new Map<string, Float32Array>();
    // Groups of replicas sample at once, one per session thread; a replica's bits do not depend
    // on the group it is sampled in (one intra-op thread per session).
    const parallel = this.host.parallelism;
    const groupSize = Math.min(this.maxBatch, Math.ceil(replicas.length / parallel));
    await forEachConcurrently(chunks(replicas, groupSize), parallel, async (group) => {
      const n = group.length;
      const maskedLatent = new Float32Array(n * latentSize);
      const mask = new Float32Array(n * patchSize);
      group.forEach(({ r }, i) => {
        maskedLatent.set(maskedLatents[r]!, i * latentSize);
        mask.set(prepared[r]!.mask, i * patchSize);
      });
      const common = {
        masked_latent: float32([n, C, p, p, p], maskedLatent),
        mask: float32([n, 1, P, P, P], mask),
        ...(responses ? this.responseInput(group.map(({ r }) => responses[r]!)) : this.actionInputs(group.map(({ r }) => prepared[r]!.action))),
      };
      const predictNoise = async (x: Float32Array, t: number) =>
        (await this.host.runFloat('dynamics/denoiser', { noisy_latent: float32([n, C, p, p, p], x), timestep: float32([n], new Float32Array(n).fill(t)), ...common }, 'noise')).data;
      const z = await sample({
        predictNoise,
        schedule: this.schedule,
        sampleSize: latentSize,
        steps: this.sampler.steps,
        method: this.sampler.method,
        seeds: group.map((g) => g.seed),
        ...(this.sampler.eta !== undefined ? { eta: this.sampler.eta } : {}),
      });
      const { data: images } = await this.host.runFloat('dynamics/decoder', { latent: float32([n, C, p, p, p], z) }, 'image');
      group.forEach(({ r, s }, i) => latents.set(`${r}/${s}`, images.slice(i * patchSize, (i + 1) * patchSize)));
    });

    return prepared.map((g, r) => {
      const pre = g.request.pre;
      const weight = this.pasteWeight(pre);
      const liverShiftHu = responses ? responses[r]![this.liverShiftIndex()]! : 0;
      return g.request.seeds.map((_, s) => {
        const post = pastePatch(pre.ct, this.decodedHu(latents.get(`${r}/${s}`)!), P, g.centre, g.ratio, weight);
        if (liverShiftHu !== 0) shiftLiver(post, pre.labels.data, weight, liverShiftHu);
        return makeVolume(post, pre.ct.shape, pre.ct.affine);
      });
    });
  }

  async expectedResponse(requests: readonly Omit<SimulationRequest, 'seeds'>[]): Promise<ExpectedResponse[]> {
    const m = this.loaded.manifest;
    if (m.action.conditioning !== 'response') throw new MewmError('ModelContract', `dynamics model ${m.name} is not conditioned on an expected response`);
    const fields = m.action.responseFields!;
    const responses = await this.expectedResponses(this.prepare(requests));
    return responses.map((r) => {
      const field = (name: keyof ExpectedResponse) => {
        const i = fields.indexOf(name);
        if (i < 0) throw new MewmError('ModelContract', `dynamics model ${m.name} has no ${name} among its response fields`);
        return r[i]!;
      };
      return {
        volumeRatio: field('volumeRatio'),
        viableShare: field('viableShare'),
        necrosisShare: field('necrosisShare'),
        lipiodolShare: field('lipiodolShare'),
        liverShiftHu: field('liverShiftHu'),
      };
    });
  }

  /** Each request's model inputs: the pre-CT patch around the tumour, its masks and the action tensors. */
  private prepare<R extends Omit<SimulationRequest, 'seeds'>>(requests: readonly R[]) {
    const m = this.loaded.manifest;
    const P = m.patchSizeZyx[0];
    const fillHu = m.intensity.windowHu[0] - 1000;
    const responseConditioned = m.action.conditioning === 'response';
    return requests.map((r) => {
      checkLabelledCt('simulation input', r.caseId, r.pre);
      const ratio = stepRatio(r.pre.ct, m.spacingMm[0]);
      const centre = tumourCentre(r.pre.labels);
      const image = samplePatch(r.pre.ct, centre, P, ratio, fillHu, (v) => normaliseHu(v, m.intensity));
      const mask = samplePatch({ ...r.pre.labels, data: binaryMask(r.pre.labels.data, Label.tumour) }, centre, P, ratio, 0);
      const liver = responseConditioned ? samplePatch({ ...r.pre.labels, data: binaryMask(r.pre.labels.data, Label.liver) }, centre, P, ratio, 0) : undefined;
      const masked = image.map((v, i) => v * (1 - mask[i]!));
      return { request: r, ratio, centre, image, liver, mask, masked, action: actionTensors(r.protocol, m, this.table) };
    });
  }

  async reconstruct(input: { readonly caseId: string; readonly pre: LabelledCt; readonly post: Volume<Float32Array> }): Promise<Volume<Float32Array>> {
    const m = this.loaded.manifest;
    const P = m.patchSizeZyx[0];
    const C = m.latent.channels;
    const p = P / m.latent.downsample;
    checkLabelledCt('reconstruction input', input.caseId, input.pre);
    const ratio = stepRatio(input.pre.ct, m.spacingMm[0]);
    const centre = tumourCentre(input.pre.labels);
    const image = samplePatch(input.post, centre, P, ratio, m.intensity.windowHu[0] - 1000, (v) => normaliseHu(v, m.intensity));
    const { data: latent } = await this.host.runFloat('dynamics/encoder', { image: float32([1, 1, P, P, P], image) }, 'latent');
    const { data: decoded } = await this.host.runFloat('dynamics/decoder', { latent: float32([1, C, p, p, p], latent) }, 'image');
    return makeVolume(pastePatch(input.post, this.decodedHu(decoded), P, centre, ratio, this.pasteWeight(input.pre)), input.post.shape, input.post.affine);
  }

  /** The decoder's output (model range) as HU, clamped to the range first. */
  private decodedHu(image: Float32Array): Float32Array {
    const { intensity } = this.loaded.manifest;
    return image.map((v) => denormaliseToHu(Math.max(intensity.range[0], Math.min(intensity.range[1], v)), intensity));
  }

  /** Where a decoded patch replaces the CT: the pre-treatment tumour dilated by the paste margin. */
  private pasteWeight(pre: LabelledCt): Float32Array {
    const radius = Math.max(1, Math.round(this.pasteMarginMm / Math.min(...spacingOf(pre.ct.affine))));
    return dilatedMask(pre.labels, Label.tumour, radius);
  }

  /**
   * The `response` graph on every request: the expected post-CT measurements of its action for
   * this patient (`action.responseFields` order), which condition the denoiser and shift the liver.
   */
  private async expectedResponses(prepared: readonly { image: Float32Array; liver?: Float32Array; mask: Float32Array; action: { concepts: Float32Array } }[]): Promise<Float32Array[]> {
    const m = this.loaded.manifest;
    const P = m.patchSizeZyx[0];
    const size = P * P * P;
    const A = m.action.agents.length;
    const R = m.action.responseFields!.length;
    const out: Float32Array[] = [];
    for (const group of chunks(prepared, this.maxBatch)) {
      const pre = new Float32Array(group.length * 3 * size);
      const concepts = new Float32Array(group.length * A);
      group.forEach((g, i) => {
        pre.set(g.image, (3 * i) * size);
        pre.set(g.liver!, (3 * i + 1) * size);
        pre.set(g.mask, (3 * i + 2) * size);
        concepts.set(g.action.concepts, i * A);
      });
      const { data } = await this.host.runFloat('dynamics/response', { pre: float32([group.length, 3, P, P, P], pre), action_concepts: float32([group.length, A], concepts) }, 'response');
      group.forEach((_, i) => out.push(data.slice(i * R, (i + 1) * R)));
    }
    for (const response of out) if (!response.every(Number.isFinite)) throw new MewmError('ModelContract', `dynamics model ${m.name} returned a non-finite response`);
    return out;
  }

  private liverShiftIndex(): number {
    return this.loaded.manifest.action.responseFields!.indexOf('liverShiftHu');
  }

  private responseInput(responses: readonly Float32Array[]) {
    const R = this.loaded.manifest.action.responseFields!.length;
    const data = new Float32Array(responses.length * R);
    responses.forEach((r, i) => data.set(r, i * R));
    return { response: float32([responses.length, R], data) };
  }

  private actionInputs(actions: readonly { concepts: Float32Array; text: Float32Array; mask: Float32Array }[]) {
    const m = this.loaded.manifest;
    const n = actions.length;
    const A = m.action.agents.length;
    const H = m.action.maxAgents;
    const F = this.table!.dim;
    const concepts = new Float32Array(n * A);
    const text = new Float32Array(n * H * F);
    const mask = new Float32Array(n * H);
    actions.forEach((a, i) => {
      concepts.set(a.concepts, i * A);
      text.set(a.text, i * H * F);
      mask.set(a.mask, i * H);
    });
    return { action_concepts: float32([n, A], concepts), action_text: float32([n, H, F], text), action_text_mask: float32([n, H], mask) };
  }
}

/**
 * Liver toxicity outside the simulated patch region: every pre-treatment liver voxel the pasted
 * patch did not replace takes the predicted liver attenuation shift (inside the region the
 * denoiser, conditioned on the same shift, has drawn it).
 */
function shiftLiver(post: Float32Array, preLabels: Uint8Array, pasted: Float32Array, shiftHu: number): void {
  for (let q = 0; q < post.length; q++) if (preLabels[q] === Label.liver && pasted[q]! <= 0) post[q]! += shiftHu;
}

/**
 * Labels on the planning grid: the argmax over the three logit channels (`[C, Z, Y, X]` on the
 * model grid), each trilinearly interpolated at the planning voxel; outside the model grid the
 * background wins.
 */
export function argmaxOnPlanningGrid(logits: Float32Array, modelZyx: readonly [number, number, number], planningShape: Xyz, ratio: Xyz): Uint8Array {
  const labels = new Uint8Array(planningShape[0] * planningShape[1] * planningShape[2]);
  argmaxInto(labels, planningShape, { lo: [0, 0, 0], hi: [planningShape[0] - 1, planningShape[1] - 1, planningShape[2] - 1] }, logits, modelZyx, [0, 0, 0], ratio);
  return labels;
}

/**
 * `argmaxOnPlanningGrid` for the planning voxels of the box `lo…hi` only, written into `labels`,
 * from logits of a model-grid window that starts at `modelStartZyx` (the box's taps must lie in
 * the window, or the window must end where the model grid does).
 */
export function argmaxInto(
  labels: Uint8Array,
  planningShape: Xyz,
  box: { readonly lo: Xyz; readonly hi: Xyz },
  logits: Float32Array,
  modelZyx: readonly [number, number, number],
  modelStartZyx: readonly [number, number, number],
  ratio: Xyz,
): void {
  const [mz, my, mx] = modelZyx;
  const perChannel = mx * my * mz;
  if (logits.length !== 3 * perChannel) throw new MewmError('ModelContract', `segmenter logits have ${logits.length} values, expected 3×${mz}×${my}×${mx}`);
  const [nx, ny] = planningShape;
  // The trilinear taps are separable and shared by the three channels (same arithmetic as
  // `trilinear`, so the same labels bit for bit); outside the model grid the background wins.
  const taps = (a: number, m: number, start: number) => axisTaps(m, Float64Array.from({ length: box.hi[a]! - box.lo[a]! + 1 }, (_, i) => (box.lo[a]! + i) / ratio[a]! - start));
  const X = taps(0, mx, modelStartZyx[2]);
  const Y = taps(1, my, modelStartZyx[1]);
  const Z = taps(2, mz, modelStartZyx[0]);
  const uniform = uniformCells(logits, modelZyx);
  for (let k = 0; k < Z.i0.length; k++) {
    const z0 = Z.i0[k]!;
    const z1 = Z.i1[k]!;
    const fz = Z.f[k]!;
    for (let j = 0; j < Y.i0.length; j++) {
      let o = box.lo[0] + nx * (box.lo[1] + j + ny * (box.lo[2] + k));
      if (Z.inside[k] !== 1 || Y.inside[j] !== 1) {
        labels.fill(0, o, o + X.i0.length);
        continue;
      }
      const y0 = Y.i0[j]!;
      const y1 = Y.i1[j]!;
      const fy = Y.f[j]!;
      const r00 = mx * (y0 + my * z0);
      const r10 = mx * (y1 + my * z0);
      const r01 = mx * (y0 + my * z1);
      const r11 = mx * (y1 + my * z1);
      for (let x = 0; x < X.i0.length; x++, o++) {
        if (X.inside[x] !== 1) {
          labels[o] = 0;
          continue;
        }
        const x0 = X.i0[x]!;
        const cell = uniform[x0 + r00]!;
        if (cell >= 0) {
          labels[o] = cell;
          continue;
        }
        const x1 = X.i1[x]!;
        const fx = X.f[x]!;
        let best = 0;
        let bestValue = -Infinity;
        for (let c = 0, base = 0; c < 3; c++, base += perChannel) {
          const c00 = logits[base + x0 + r00]! * (1 - fx) + logits[base + x1 + r00]! * fx;
          const c10 = logits[base + x0 + r10]! * (1 - fx) + logits[base + x1 + r10]! * fx;
          const c01 = logits[base + x0 + r01]! * (1 - fx) + logits[base + x1 + r01]! * fx;
          const c11 = logits[base + x0 + r11]! * (1 - fx) + logits[base + x1 + r11]! * fx;
          const v = (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
          if (v > bestValue) {
            bestValue = v;
            best = c;
          }
        }
        labels[o] = best;
      }
    }
  }
}

/**
 * Per model voxel (x, y, z), the label that wins at every point interpolated from the cell
 * {x, x + 1} × {y, y + 1} × {z, z + 1} (clamped to the grid), or −1. Where one channel beats
 * the others at all eight corners by more than the rounding of the interpolation, it beats them
 * at every convex combination of the corners, so `argmaxInto` may skip the interpolation there
 * and gives the same labels as computing it.
 */
function uniformCells(logits: Float32Array, [mz, my, mx]: readonly [number, number, number]): Int8Array {
  const per = mx * my * mz;
  let scale = 1;
  for (let i = 0; i < logits.length; i++) scale = Math.max(scale, Math.abs(logits[i]!));
  // The interpolation runs in doubles: its error is below 1e-14·scale, far under this margin.
  const margin = 1e-9 * scale;
  const winner = new Int8Array(per);
  for (let i = 0; i < per; i++) {
    const a = logits[i]!;
    const b = logits[per + i]!;
    const c = logits[2 * per + i]!;
    winner[i] = a - Math.max(b, c) > margin ? 0 : b - Math.max(a, c) > margin ? 1 : c - Math.max(a, b) > margin ? 2 : -1;
  }
  const cells = new Int8Array(per);
  for (let z = 0; z < mz; z++) {
    const dz = z + 1 < mz ? mx * my : 0;
    for (let y = 0; y < my; y++) {
      const dy = y + 1 < my ? mx : 0;
      for (let x = 0, i = mx * (y + my * z); x < mx; x++, i++) {
        const dx = x + 1 < mx ? 1 : 0;
        const w = winner[i]!;
        cells[i] =
          w >= 0 &&
          winner[i + dx] === w &&
          winner[i + dy] === w &&
          winner[i + dx + dy] === w &&
          winner[i + dz] === w &&
          winner[i + dz + dx] === w &&
          winner[i + dz + dy] === w &&
          winner[i + dz + dy + dx] === w
            ? w
            : -1;
      }
    }
  }
  return cells;
}

class OnnxAssistant implements AssistantModel {
  readonly identity: ModelIdentity;

  constructor(
    private readonly host: OnnxSessionHost,
    private readonly loaded: LoadedManifest<ManifestFor<'assistant'>>,
    private readonly maxBatch: number,
  ) {
    this.identity = identityOf(loaded);
  }

  async segment(input: { readonly caseId: string; readonly ct: Volume<Float32Array>; readonly focus?: SegmentationFocus }): Promise<Volume<Uint8Array>> {
    const m = this.loaded.manifest;
    const ct = input.ct;
    if (ct.data.length !== voxelCount(ct.shape)) throw new MewmError('InvalidInput', `CT of case ${input.caseId} does not match its shape`, { caseId: input.caseId });
    const ratio = stepRatio(ct, m.spacingMm[0]);
    const grid = resampleToModelGrid(ct, ratio, (v) => normaliseHu(v, m.intensity));
    const roi = m.patchSizeZyx;
    const pre = input.focus?.preLabels;
    if (pre && (pre.shape.some((n, a) => n !== ct.shape[a]) || pre.data.length !== ct.data.length)) {
      throw new MewmError('InvalidInput', `the focus labels of case ${input.caseId} are not on the CT's grid`, { caseId: input.caseId });
    }
    const focus = pre ? focusOf(pre, ratio, grid.shapeZyx, roi, input.focus!.marginMm, FOCUS_CONTEXT_VOXELS) : undefined;
    const shape = focus ? focus.windowShapeZyx : grid.shapeZyx;
    const logits = await slidingWindowInference({
      image: focus ? extractWindow(grid.data, 1, grid.shapeZyx, focus.windowStartZyx, focus.windowShapeZyx) : grid.data,
      inChannels: 1,
      shape,
      roi,
      overlap: m.slidingWindow.overlap,
      sigmaScale: m.slidingWindow.sigmaScale,
      outChannels: 3,
      batchSize: this.maxBatch,
      padValue: m.intensity.range[0],
      // The batch is the sliding window's own fresh buffer: hand it over without a copy.
      predict: async (batch, n) => (await this.host.runFloat('assistant/segmenter', { image: float32([n, 1, ...roi], batch) }, 'logits', { transfer: true })).data,
    });
    let labels: Uint8Array;
    if (focus) {
      labels = Uint8Array.from(pre!.data);
      argmaxInto(labels, ct.shape, focus, logits, shape, focus.windowStartZyx, ratio);
    } else {
      labels = argmaxOnPlanningGrid(logits, grid.shapeZyx, ct.shape, ratio);
    }
    return makeVolume(keepLargestOrgan(labels, ct.shape), ct.shape, ct.affine);
  }
}

class OnnxHeuristic implements HeuristicModel {
  readonly identity: ModelIdentity;

  constructor(
    private readonly host: OnnxSessionHost,
    private readonly loaded: LoadedManifest<ManifestFor<'heuristic'>>,
  ) {
    this.identity = identityOf(loaded);
  }

  async risk(input: { readonly caseId: string; readonly pre: LabelledCt; readonly post: LabelledCt }): Promise<number> {
    const m = this.loaded.manifest;
    checkLabelledCt('pre-treatment input', input.caseId, input.pre);
    checkLabelledCt('post-treatment input', input.caseId, input.post);
    const P = m.patchSizeZyx[0];
    const size = P * P * P;
    const ratio = stepRatio(input.pre.ct, m.spacingMm[0]);
    const centre = tumourCentre(input.pre.labels);
    const fillHu = m.intensity.windowHu[0] - 1000;
    const n = m.cropOffsetsXyz.length;
    const channels = m.inputChannels;
    const K = channels.length;
    const pre = new Float32Array(n * K * size);
    const post = new Float32Array(n * K * size);
    const masksOf = (labels: Uint8Array) => ({ liver: binaryMask(labels, Label.liver), tumour: binaryMask(labels, Label.tumour) });
    const masks = { pre: masksOf(input.pre.labels.data), post: masksOf(input.post.labels.data) };
    const toModel = (v: number) => normaliseHu(v, m.intensity);
    const fill = (ct: LabelledCt, mask: { liver: Float32Array; tumour: Float32Array }, out: Float32Array, i: number, c: Xyz) => {
      channels.forEach((channel, k) => {
        const values = channel === 'ct' ? samplePatch(ct.ct, c, P, ratio, fillHu, toModel) : samplePatch({ ...ct.labels, data: mask[channel] }, c, P, ratio, 0);
        out.set(values, (K * i + k) * size);
      });
    };
    m.cropOffsetsXyz.forEach((o, i) => {
      const c: Xyz = [centre[0] + o[0] * ratio[0], centre[1] + o[1] * ratio[1], centre[2] + o[2] * ratio[2]];
      fill(input.pre, masks.pre, pre, i, c);
      fill(input.post, masks.post, post, i, c);
    });
    const { data } = await this.host.runFloat('heuristic/survival', { pre: float32([n, K, P, P, P], pre), post: float32([n, K, P, P, P], post) }, 'risk');
    let sum = 0;
    for (const v of data) sum += v;
    const risk = sum / data.length;
    if (!Number.isFinite(risk)) throw new MewmError('ModelContract', `survival model returned a non-finite risk for case ${input.caseId}`, { caseId: input.caseId });
    return risk;
  }
}

export interface OnnxWorldModel extends WorldModel {
  readonly dynamics: DynamicsModel;
  readonly manifests: { readonly dynamics: ManifestFor<'dynamics'>; readonly assistant: ManifestFor<'assistant'>; readonly heuristic: ManifestFor<'heuristic'> };
}

/** The text table of `text-and-concepts` models; `response` models need their `response` graph instead. */
async function loadActionConditioning(dynamics: LoadedManifest<ManifestFor<'dynamics'>>): Promise<TextTable | undefined> {
  const action = dynamics.manifest.action;
  if (action.conditioning === 'response') {
    if (!('response' in dynamics.manifest.graphs)) throw new MewmError('ModelContract', `dynamics model ${dynamics.manifest.name} uses response conditioning but has no response graph`);
    return undefined;
  }
  const tableBytes = await readVerifiedFile(dynamics.dir, action.textFeatureFile!, action.textFeatureSha256!, 'action text feature table');
  const table = JSON.parse(tableBytes.toString('utf8')) as TextTable;
  if (!Number.isInteger(table.dim) || typeof table.features !== 'object') throw new MewmError('ModelContract', `${action.textFeatureFile} is not a text feature table`);
  return table;
}

/** Loads and verifies the three models, starts the worker thread and creates every session once. */
export async function createOnnxWorldModel(options: OnnxWorldModelOptions): Promise<OnnxWorldModel> {
  const sampler = options.sampler ?? DEFAULT_SAMPLER;
  const maxBatch = options.maxBatch ?? 8;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new MewmError('InvalidConfig', `maxBatch must be a positive integer, got ${maxBatch}`);
  const [dynamics, assistant, heuristic] = await Promise.all([
    loadModelManifest(join(options.modelDir, 'dynamics'), 'dynamics'),
    loadModelManifest(join(options.modelDir, 'assistant'), 'assistant'),
    loadModelManifest(join(options.modelDir, 'heuristic'), 'heuristic'),
  ]);
  const P = dynamics.manifest.patchSizeZyx;
  if (P[0] !== P[1] || P[1] !== P[2] || P[0] % dynamics.manifest.latent.downsample !== 0) {
    throw new MewmError('ModelContract', `dynamics patch ${P.join('x')} must be a cube divisible by the latent downsampling ${dynamics.manifest.latent.downsample}`);
  }
  const table = await loadActionConditioning(dynamics);

  const log = options.log ?? pino({ name: 'mewm-onnx' });
  const host = new OnnxSessionHost({
    ...(options.executionProvider ? { executionProvider: options.executionProvider } : {}),
    ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    ...(options.sessionWorkers ? { workers: options.sessionWorkers } : {}),
    log,
  });
  try {
    for (const [role, loaded] of [['dynamics', dynamics], ['assistant', assistant], ['heuristic', heuristic]] as const) {
      for (const [graph, path] of Object.entries(loaded.graphPaths)) await host.load(`${role}/${graph}`, path, loaded.manifest.graphs[graph]);
    }
  } catch (error) {
    await host.close();
    throw error;
  }
  return {
    dynamics: new OnnxDynamics(host, dynamics, table, sampler, maxBatch, options.pasteMarginMm ?? 6),
    assistant: new OnnxAssistant(host, assistant, maxBatch),
    heuristic: new OnnxHeuristic(host, heuristic),
    manifests: { dynamics: dynamics.manifest, assistant: assistant.manifest, heuristic: heuristic.manifest },
    parallelism: host.parallelism,
    close: () => host.close(),
  };
}

/** Reads a model's recorded parity inputs/outputs (training/export.py `parity.json`). */
export async function readParityFile(dir: string, file: string): Promise<Record<string, { inputs: Record<string, { dims: number[]; data: string }>; outputs: Record<string, { dims: number[]; data: string }> }>> {
  const json = JSON.parse(await readFile(join(dir, file), 'utf8')) as { graphs: Record<string, never> };
  return json.graphs;
}
