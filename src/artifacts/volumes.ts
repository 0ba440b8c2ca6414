import { MewmError } from '../core/errors';
import { invalidVolume } from '../core/volume/validate';
import { Label, type Volume } from '../core/volume/volume';
import { decodeNifti, encodeNifti } from '../io/nifti';
import type { ArtifactRef, ArtifactStore } from './store';

/** Media types of the artifacts mewm writes. */
export const artifactMediaTypes = {
  niftiGzip: 'application/x-nifti+gzip',
  json: 'application/json',
  png: 'image/png',
} as const;

/**
 * zlib levels. A CT is written for every simulated replica: float32 HU of a resampled CT shrink by
 * only ~17 % at level 1, for ~95 ms of CPU per 96³ ROI (a tenth of a replica's whole cost), so CTs
 * are stored (level 0: still a valid `.nii.gz`; `bench/stages.ts` measures both). Label maps are
 * mostly runs of one value and compress well at level 1 for ~10 ms.
 */
const gzipLevel = { ct: 0, labels: 1 } as const;

const knownLabels = new Set<number>(Object.values(Label));

/**
 * Stores a volume as gzip-compressed NIfTI-1 (`.nii.gz`). With `labels: true` the volume must be a
 * Uint8Array label map holding only 0 (background), 1 (liver) and 2 (tumour); otherwise InvalidVolume.
 * The encoding is deterministic, so the same volume always gets the same ref.
 */
export async function putVolume(store: ArtifactStore, volume: Volume, options: { labels?: boolean } = {}): Promise<ArtifactRef> {
  if (options.labels) assertLabelMap(volume, 'label volume to store');
  const bytes = encodeNifti(volume, { gzip: true, level: options.labels ? gzipLevel.labels : gzipLevel.ct });
  return store.put(bytes, { mediaType: artifactMediaTypes.niftiGzip, extension: '.nii.gz' });
}

/** Reads and decodes a NIfTI artifact (hash verified by the store). */
export async function getVolume(store: ArtifactStore, ref: ArtifactRef): Promise<Volume> {
  return decodeNifti(await store.get(ref), { name: nameOf(ref) });
}

/** Reads a label map, checking it is a Uint8Array of known labels. */
export async function getLabelVolume(store: ArtifactStore, ref: ArtifactRef): Promise<Volume<Uint8Array>> {
  const volume = await getVolume(store, ref);
  assertLabelMap(volume, nameOf(ref));
  return volume as Volume<Uint8Array>;
}

/** Reads a CT volume in HU as Float32Array (integer-typed files are widened). */
export async function getCtVolume(store: ArtifactStore, ref: ArtifactRef): Promise<Volume<Float32Array>> {
  const volume = await getVolume(store, ref);
  const data = volume.data instanceof Float32Array ? volume.data : Float32Array.from(volume.data);
  return { data, shape: volume.shape, affine: volume.affine };
}

/** Stores a JSON document with keys sorted, so equal values give equal refs. Non-finite numbers are refused. */
export async function putJson(store: ArtifactStore, value: unknown): Promise<ArtifactRef> {
  const text = canonicalJson(value, '$');
  return store.put(new TextEncoder().encode(text), { mediaType: artifactMediaTypes.json, extension: '.json' });
}

/**
 * Reads a JSON artifact. Pass a schema (anything with `parse`, e.g. a zod schema) to check its
 * shape; a document that parses as JSON but not as the schema is InvalidInput.
 */
export async function getJson<T = unknown>(store: ArtifactStore, ref: ArtifactRef, schema?: { parse(value: unknown): T }): Promise<T> {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(await store.get(ref));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MewmError('InvalidInput', `artifact ${ref.uri} is not valid JSON`, { uri: ref.uri }, { cause: error });
  }
  if (schema === undefined) return value as T;
  try {
    return schema.parse(value);
  } catch (error) {
    throw new MewmError(
      'InvalidInput',
      `artifact ${ref.uri} does not match the expected JSON shape: ${error instanceof Error ? error.message : String(error)}`,
      { uri: ref.uri },
      { cause: error },
    );
  }
}

const pngSignature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Stores encoded PNG bytes (e.g. from `encodePng` in src/io/png). */
export async function putPng(store: ArtifactStore, png: Uint8Array): Promise<ArtifactRef> {
  if (png.byteLength < pngSignature.length || pngSignature.some((byte, i) => png[i] !== byte)) {
    throw new MewmError('InvalidInput', 'putPng was given bytes that are not a PNG image (missing PNG signature)');
  }
  return store.put(png, { mediaType: artifactMediaTypes.png, extension: '.png' });
}

/** Pseudonymous name for error messages: the content hash, never a patient file name. */
function nameOf(ref: ArtifactRef): string {
  return `artifact sha256:${ref.sha256.slice(0, 12)}`;
}

function assertLabelMap(volume: Volume, name: string): asserts volume is Volume<Uint8Array> {
  if (!(volume.data instanceof Uint8Array)) {
    throw invalidVolume(name, `must be a uint8 label map, got ${volume.data.constructor.name}`);
  }
  for (let i = 0; i < volume.data.length; i++) {
    const label = volume.data[i]!;
    if (!knownLabels.has(label)) throw invalidVolume(name, `holds label ${label} at voxel ${i}; only 0 (background), 1 (liver) and 2 (tumour) are known`);
  }
}

function canonicalJson(value: unknown, path: string): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new MewmError('InvalidInput', `JSON artifact holds a non-finite number at ${path}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item, i) => canonicalJson(item === undefined ? null : item, `${path}[${i}]`)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item, `${path}.${key}`)}`).join(',')}}`;
  }
  throw new MewmError('InvalidInput', `JSON artifact holds a ${typeof value} at ${path}, which JSON cannot represent`);
}
