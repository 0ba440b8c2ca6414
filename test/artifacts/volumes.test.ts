import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LocalArtifactStore } from '../../src/artifacts/local-store';
import { S3ArtifactStore } from '../../src/artifacts/s3-store';
import type { ArtifactStore } from '../../src/artifacts/store';
import { artifactMediaTypes, getCtVolume, getJson, getLabelVolume, getVolume, putJson, putPng, putVolume } from '../../src/artifacts/volumes';
import { encodeNifti } from '../../src/io/nifti';
import { encodePng } from '../../src/io/png';
import { makeVolume, type Affine } from '../../src/core/volume/volume';
import { startS3Server, s3rverCredentials, type LocalS3Server } from '../support/s3-server';

const shape = [7, 6, 5] as const;
// Oblique, anisotropic, off-origin: a transposed or truncated affine would not survive the round trip.
const affine: Affine = [0.7, 0.1, 0, -120.5, -0.1, 0.7, 0, 80.25, 0, 0, 2.5, -300, 0, 0, 0, 1];

function ctVolume() {
  const data = Float32Array.from({ length: shape[0] * shape[1] * shape[2] }, (_, i) => -1000 + ((i * 37) % 1400) + 0.25);
  return makeVolume(data, shape, affine);
}

function labelVolume() {
  const data = Uint8Array.from({ length: shape[0] * shape[1] * shape[2] }, (_, i) => (i % 11 === 0 ? 2 : i % 3 === 0 ? 1 : 0));
  return makeVolume(data, shape, affine);
}

function expectAffineClose(actual: readonly number[]) {
  // The NIfTI header stores the sform as float32.
  actual.forEach((value, i) => expect(value).toBeCloseTo(affine[i]!, 4));
}

describe('volume encoding', () => {
  it('stores the bytes of encodeNifti with gzip at the same levels (CT 0, labels 1), the levels the store promises', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mewm-volumes-bytes-'));
    try {
      const store = new LocalArtifactStore(dir);
      const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
      expect((await putVolume(store, ctVolume())).sha256).toBe(sha(encodeNifti(ctVolume(), { gzip: true, level: 0 })));
      expect((await putVolume(store, labelVolume(), { labels: true })).sha256).toBe(sha(encodeNifti(labelVolume(), { gzip: true, level: 1 })));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.each([
  ['local filesystem', 'local'],
  ['S3 (s3rver on loopback)', 's3'],
] as const)('volume artifacts through the %s store', (_label, kind) => {
  let store: ArtifactStore;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    if (kind === 'local') {
      const root = await mkdtemp(join(tmpdir(), 'mewm-volumes-'));
      store = new LocalArtifactStore(root);
      cleanup = () => rm(root, { recursive: true, force: true });
    } else {
      const s3: LocalS3Server = await startS3Server();
      const s3Store = new S3ArtifactStore({
        bucket: s3.bucket,
        prefix: 'volumes',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: s3rverCredentials,
      });
      store = s3Store;
      cleanup = async () => {
        s3Store.destroy();
        await s3.close();
      };
    }
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('round-trips a CT volume voxel for voxel as gzip-compressed NIfTI', async () => {
    const ct = ctVolume();
    const ref = await putVolume(store, ct);
    expect(ref.uri).toMatch(/\.nii\.gz$/);
    expect(ref.mediaType).toBe(artifactMediaTypes.niftiGzip);
    const bytes = await store.get(ref);
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);

    const back = await getCtVolume(store, ref);
    expect(back.shape).toEqual(shape);
    expect(back.data).toBeInstanceOf(Float32Array);
    expect(Array.from(back.data)).toEqual(Array.from(ct.data));
    expectAffineClose(back.affine);
  });

  it('gives the same ref for the same volume (deterministic encoding, idempotent put)', async () => {
    const first = await putVolume(store, ctVolume());
    const second = await putVolume(store, ctVolume());
    expect(second).toEqual(first);
  });

  it('round-trips a label map as uint8 and refuses unknown labels', async () => {
    const labels = labelVolume();
    const ref = await putVolume(store, labels, { labels: true });
    const back = await getLabelVolume(store, ref);
    expect(back.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(back.data)).toEqual(Array.from(labels.data));
    expectAffineClose(back.affine);

    const bad = makeVolume(
      Uint8Array.from(labels.data, (v, i) => (i === 3 ? 7 : v)),
      shape,
      affine,
    );
    await expect(putVolume(store, bad, { labels: true })).rejects.toMatchObject({ code: 'InvalidVolume' });
    const ctRef = await putVolume(store, ctVolume());
    await expect(getLabelVolume(store, ctRef)).rejects.toMatchObject({ code: 'InvalidVolume' });
  });

  it('reports a non-NIfTI artifact read as a volume as InvalidVolume without naming a file path', async () => {
    const ref = await store.put(new TextEncoder().encode('not a nifti file at all, but long enough to have a header?'), {
      mediaType: 'text/plain',
      extension: '.txt',
    });
    const failure = (await getVolume(store, ref).catch((error: unknown) => error)) as Error & { code: string };
    expect(failure.code).toBe('InvalidVolume');
    expect(failure.message).toContain(`sha256:${ref.sha256.slice(0, 12)}`);
  });

  it('stores JSON canonically (key order does not change the ref) and checks its shape on read', async () => {
    const a = await putJson(store, { caseId: 'synthetic-0003', risk: [0.25, 0.5], meta: { b: 1, a: 2 } });
    const b = await putJson(store, { meta: { a: 2, b: 1 }, risk: [0.25, 0.5], caseId: 'synthetic-0003' });
    expect(b).toEqual(a);
    const schema = z.object({ caseId: z.string(), risk: z.array(z.number()) });
    expect(await getJson(store, a, schema)).toEqual({ caseId: 'synthetic-0003', risk: [0.25, 0.5] });
    await expect(getJson(store, a, z.object({ caseId: z.number() }))).rejects.toMatchObject({ code: 'InvalidInput' });
    await expect(putJson(store, { risk: Number.NaN })).rejects.toMatchObject({ code: 'InvalidInput' });
  });

  it('stores PNG images and refuses other bytes', async () => {
    const png = encodePng(new Uint8Array(2 * 2 * 4).fill(200), 2, 2);
    const ref = await putPng(store, png);
    expect(ref.mediaType).toBe('image/png');
    expect(ref.uri).toMatch(/\.png$/);
    expect(Buffer.from(await store.get(ref))).toEqual(Buffer.from(png));
    await expect(putPng(store, new Uint8Array([1, 2, 3]))).rejects.toMatchObject({ code: 'InvalidInput' });
  });
});
