/**
 * The learned-model contract: a model is a folder holding ONNX graph files and one
 * `manifest.json` that describes them completely (nnU-Net's "a model folder describes itself").
 * Python (`training/`) writes this schema and TypeScript reads it; every preprocessing constant
 * (intensity window, patch size, spacing, label map, scheduler) lives here and nowhere else.
 *
 * Tensor conventions: axis order `[N, C, Z, Y, X]`; `patchSizeZyx` is `[Z, Y, X]` voxels;
 * `spacingMm` is `[x, y, z]` millimetres (the order of `Volume.shape`). CT values are HU and are
 * clipped to `intensity.windowHu` then mapped linearly onto `intensity.range`.
 *
 * `loadModelManifest` validates the JSON and checks the sha256 of every graph file before any
 * session is created: a missing file is `ModelMissing`, a changed one `ModelTampered`, both
 * naming the file and the expected hash.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { MewmError } from '../core/errors';
import type { ModelRole } from './world-model';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_SCHEMA_VERSION = 1;
export const INTENDED_USE = 'synthetic data, not for clinical use';

const dtypeSchema = z.enum(['float32', 'int64', 'float16', 'uint8']);
/** A dimension is a fixed size or a symbolic name (dynamic: "batch", "z", ...). */
const dimSchema = z.union([z.number().int().positive(), z.string().min(1)]);

const tensorSpecSchema = z.object({
  name: z.string().min(1),
  dtype: dtypeSchema,
  shape: z.array(dimSchema).min(1),
  description: z.string().optional(),
});

const graphSchema = z.object({
  file: z
    .string()
    .min(1)
    .refine((f) => !f.includes('..') && !f.startsWith('/'), 'graph file must be a plain name inside the model folder'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lower-case hex digits'),
  inputs: z.array(tensorSpecSchema).min(1),
  outputs: z.array(tensorSpecSchema).min(1),
});

const triple = z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]);
const intTriple = z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]);

const schedulerSchema = z.object({
  numTrainTimesteps: z.number().int().positive(),
  betaSchedule: z.enum(['linear', 'scaled_linear', 'squaredcos_cap_v2']),
  betaStart: z.number().positive(),
  betaEnd: z.number().positive(),
  predictionType: z.literal('epsilon'),
});

const baseManifestSchema = z.object({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  name: z.string().min(1),
  version: z.string().min(1),
  role: z.enum(['dynamics', 'assistant', 'heuristic']),
  intendedUse: z.literal(INTENDED_USE),
  description: z.string(),
  axisOrder: z.literal('NCZYX'),
  patchSizeZyx: intTriple,
  spacingMm: triple,
  intensity: z.object({
    windowHu: z.tuple([z.number(), z.number()]).refine(([lo, hi]) => hi > lo, 'window upper bound must exceed lower bound'),
    range: z.tuple([z.number(), z.number()]).refine(([lo, hi]) => hi > lo, 'range upper bound must exceed lower bound'),
  }),
  labels: z.record(z.string(), z.number().int().nonnegative()),
  graphs: z.record(z.string(), graphSchema),
  training: z.object({
    data: z.string(),
    cases: z.number().int().nonnegative(),
    seed: z.number().int(),
    config: z.record(z.string(), z.unknown()),
  }),
  /** Held-out metrics measured after training (free-form numbers, named). */
  quality: z.record(z.string(), z.unknown()),
  /** Fixed inputs and PyTorch outputs recorded at export, for parity checks without torch. */
  parityFile: z.string().optional(),
});

const dynamicsManifestSchema = baseManifestSchema.extend({
  role: z.literal('dynamics'),
  latent: z.object({ channels: z.number().int().positive(), downsample: z.number().int().positive(), scale: z.number().positive() }),
  scheduler: schedulerSchema,
  action: z
    .object({
      /** Agent ids in concept-embedding order (a multi-hot vector of this length). */
      agents: z.array(z.string().min(1)).min(1),
      maxAgents: z.number().int().positive(),
      /**
       * How τ(a) reaches the denoiser. `text-and-concepts` (0.1–0.2): action tensors straight into the
       * denoiser. `response`: a `response` graph maps (pre patch, multi-hot) to the expected post-CT
       * measurements (`responseFields`), which condition the denoiser and shift the liver.
       */
      conditioning: z.enum(['text-and-concepts', 'response']).default('text-and-concepts'),
      responseFields: z.array(z.string().min(1)).optional(),
      /**
       * Classifier-free guidance scale computed inside the denoiser graph (dynamics 0.4): each call
       * runs the network on a doubled batch, with and without the response. Informational (the
       * graph's inputs and outputs are those of an unguided model); absent or 1: no guidance.
       */
      guidanceScale: z.number().min(1).optional(),
      /** File (in the model folder) with the text-feature table: `{ dim, features: { agentId: number[] } }`. */
      textFeatureFile: z.string().min(1).optional(),
      textFeatureSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
      textEncoder: z.string().min(1).optional(),
    })
    .refine((a) => a.conditioning === 'response' || (a.textFeatureFile !== undefined && a.textFeatureSha256 !== undefined), 'text-and-concepts conditioning needs textFeatureFile and textFeatureSha256')
    .refine((a) => a.conditioning !== 'response' || (a.responseFields ?? []).includes('liverShiftHu'), 'response conditioning needs responseFields with liverShiftHu'),
});

const assistantManifestSchema = baseManifestSchema.extend({
  role: z.literal('assistant'),
  slidingWindow: z.object({ overlap: z.number().min(0).lt(1), sigmaScale: z.number().positive() }),
});

const heuristicManifestSchema = baseManifestSchema.extend({
  role: z.literal('heuristic'),
  crops: z.number().int().positive(),
  /** Offsets of the crops from the tumour centroid, voxels `[x, y, z]` on the model grid. */
  cropOffsetsXyz: z.array(z.tuple([z.number().int(), z.number().int(), z.number().int()])).min(1),
  /** Channels of the `pre` / `post` inputs, in order (0.1: CT and tumour mask). */
  inputChannels: z.array(z.enum(['ct', 'liver', 'tumour'])).min(1).default(['ct', 'tumour']),
});

export const modelManifestSchema = z.discriminatedUnion('role', [dynamicsManifestSchema, assistantManifestSchema, heuristicManifestSchema]);

export type TensorSpec = z.infer<typeof tensorSpecSchema>;
export type GraphSpec = z.infer<typeof graphSchema>;
export type SchedulerConfig = z.infer<typeof schedulerSchema>;
export type DynamicsManifest = z.infer<typeof dynamicsManifestSchema>;
export type AssistantManifest = z.infer<typeof assistantManifestSchema>;
export type HeuristicManifest = z.infer<typeof heuristicManifestSchema>;
export type ModelManifest = z.infer<typeof modelManifestSchema>;
export type ManifestFor<R extends ModelRole> = Extract<ModelManifest, { role: R }>;

/** Graph names each role must provide. */
export const REQUIRED_GRAPHS: { readonly [R in ModelRole]: readonly string[] } = {
  dynamics: ['encoder', 'decoder', 'denoiser'],
  assistant: ['segmenter'],
  heuristic: ['survival'],
};

export interface LoadedManifest<M extends ModelManifest = ModelManifest> {
  readonly manifest: M;
  readonly dir: string;
  /** Absolute path of each graph file, by graph name. */
  readonly graphPaths: Readonly<Record<string, string>>;
  /** One hash naming the whole model: sha256 over the graph hashes in name order. */
  readonly sha256: string;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Parses manifest JSON (already read) and checks role-specific invariants. Throws `ModelContract`. */
export function parseModelManifest(json: unknown, source = MANIFEST_FILE): ModelManifest {
  const parsed = modelManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new MewmError('ModelContract', `model manifest ${source} is invalid: ${issues.join('; ')}`, { file: source, issues });
  }
  const manifest = parsed.data;
  const missing = REQUIRED_GRAPHS[manifest.role].filter((g) => !(g in manifest.graphs));
  if (missing.length > 0) {
    throw new MewmError('ModelContract', `model manifest ${source} (role ${manifest.role}) lacks graphs: ${missing.join(', ')}`, { file: source, missing });
  }
  if (manifest.role === 'heuristic' && manifest.cropOffsetsXyz.length !== manifest.crops) {
    throw new MewmError('ModelContract', `model manifest ${source}: crops is ${manifest.crops} but cropOffsetsXyz has ${manifest.cropOffsetsXyz.length} entries`, { file: source });
  }
  return manifest;
}

async function readOrMissing(path: string, what: string, details: Record<string, unknown>): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new MewmError('ModelMissing', `${what} ${path} is missing`, { file: path, ...details }, { cause: error });
    }
    throw new MewmError('ModelMissing', `${what} ${path} cannot be read (${code ?? 'error'})`, { file: path, ...details }, { cause: error });
  }
}

/** Reads a data file of the model folder after checking its sha256 (same errors as graph files). */
export async function readVerifiedFile(dir: string, file: string, expectedSha256: string, what: string): Promise<Buffer> {
  const path = join(resolve(dir), file);
  const bytes = await readOrMissing(path, `${what} (expected sha256 ${expectedSha256})`, { expectedSha256 });
  const actual = sha256Hex(bytes);
  if (actual !== expectedSha256) {
    throw new MewmError('ModelTampered', `model file ${path} has sha256 ${actual} but its manifest expects ${expectedSha256}`, {
      file: path,
      expectedSha256,
      actualSha256: actual,
    });
  }
  return bytes;
}

/**
 * Reads `<dir>/manifest.json`, validates it, and verifies the sha256 of every graph file.
 * `expectedRole` guards against plugging a segmenter in where a survival model belongs.
 */
export async function loadModelManifest<R extends ModelRole>(dir: string, expectedRole: R): Promise<LoadedManifest<ManifestFor<R>>> {
  const absDir = resolve(dir);
  const manifestPath = join(absDir, MANIFEST_FILE);
  const raw = await readOrMissing(manifestPath, 'model manifest', { role: expectedRole });
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new MewmError('ModelContract', `model manifest ${manifestPath} is not valid JSON`, { file: manifestPath }, { cause: error });
  }
  const manifest = parseModelManifest(json, manifestPath);
  if (manifest.role !== expectedRole) {
    throw new MewmError('ModelContract', `model in ${absDir} has role ${manifest.role}, expected ${expectedRole}`, { file: manifestPath });
  }
  const graphPaths: Record<string, string> = {};
  for (const [graph, spec] of Object.entries(manifest.graphs).sort(([a], [b]) => a.localeCompare(b))) {
    const path = join(absDir, spec.file);
    const bytes = await readOrMissing(path, `model file for ${manifest.name} graph ${graph} (expected sha256 ${spec.sha256})`, {
      expectedSha256: spec.sha256,
    });
    const actual = sha256Hex(bytes);
    if (actual !== spec.sha256) {
      throw new MewmError('ModelTampered', `model file ${path} has sha256 ${actual} but its manifest expects ${spec.sha256}`, {
        file: path,
        expectedSha256: spec.sha256,
        actualSha256: actual,
      });
    }
    graphPaths[graph] = path;
  }
  const sha256 = createHash('sha256')
    .update(
      Object.keys(graphPaths)
        .map((g) => `${g}:${manifest.graphs[g]!.sha256}`)
        .join('\n'),
    )
    .digest('hex');
  return { manifest: manifest as ManifestFor<R>, dir: absDir, graphPaths, sha256 };
}

/** HU → model range, per the manifest window (clip, then linear). */
export function normaliseHu(hu: number, intensity: ModelManifest['intensity']): number {
  const [lo, hi] = intensity.windowHu;
  const [a, b] = intensity.range;
  const clipped = hu < lo ? lo : hu > hi ? hi : hu;
  return a + ((clipped - lo) / (hi - lo)) * (b - a);
}

/** Model range → HU (inverse of `normaliseHu` inside the window). */
export function denormaliseToHu(value: number, intensity: ModelManifest['intensity']): number {
  const [lo, hi] = intensity.windowHu;
  const [a, b] = intensity.range;
  return lo + ((value - a) / (b - a)) * (hi - lo);
}
