import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isMewmError } from '../../src/core/errors';
import { LocalArtifactStore } from '../../src/artifacts/local-store';
import { sha256Hex } from '../../src/artifacts/content-key';

const options = { mediaType: 'application/octet-stream', extension: '.bin' } as const;

describe('LocalArtifactStore', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'mewm-artifacts-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('stores bytes under a content-addressed file:// key and reads them back verified', async () => {
    const store = new LocalArtifactStore(join(root, 'store'));
    const bytes = new TextEncoder().encode('a tumour mask, or anything else');
    const hash = sha256Hex(bytes);
    const ref = await store.put(bytes, options);

    expect(ref).toEqual({
      uri: `${store.location}/sha256/${hash.slice(0, 2)}/${hash}.bin`,
      sha256: hash,
      bytes: bytes.byteLength,
      mediaType: options.mediaType,
    });
    expect(fileURLToPath(ref.uri)).toBe(join(root, 'store', 'sha256', hash.slice(0, 2), `${hash}.bin`));
    expect(Buffer.from(await store.get(ref))).toEqual(Buffer.from(bytes));
    expect(await store.exists(ref)).toBe(true);
  });

  it('is idempotent: the same bytes give the same ref and leave exactly one file, no temporaries', async () => {
    const store = new LocalArtifactStore(root);
    const bytes = new Uint8Array(4096).map((_, i) => (i * 31) % 251);
    const [first, second] = await Promise.all([store.put(bytes, options), store.put(bytes, options)]);
    const third = await store.put(bytes.slice(), options);
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    const folder = join(root, 'sha256', first.sha256.slice(0, 2));
    expect(await readdir(folder)).toEqual([`${first.sha256}.bin`]);
  });

  it('detects a file changed on disk (ArtifactCorrupt) and a retried put repairs it', async () => {
    const store = new LocalArtifactStore(root);
    const bytes = new TextEncoder().encode('original content');
    const ref = await store.put(bytes, options);
    await writeFile(fileURLToPath(ref.uri), 'tampered content');

    const failure = await store.get(ref).catch((error: unknown) => error);
    expect(isMewmError(failure, 'ArtifactCorrupt')).toBe(true);
    expect((failure as Error).message).toContain(ref.sha256);

    await store.put(bytes, options);
    expect(Buffer.from(await readFile(fileURLToPath(ref.uri))).toString()).toBe('original content');
  });

  it('reports a truncated file as ArtifactCorrupt even when the prefix is intact', async () => {
    const store = new LocalArtifactStore(root);
    const ref = await store.put(new TextEncoder().encode('0123456789'), options);
    await writeFile(fileURLToPath(ref.uri), '01234');
    await expect(store.get(ref)).rejects.toMatchObject({ code: 'ArtifactCorrupt', retryable: false });
  });

  it('reports a missing artifact as non-retryable ArtifactNotFound', async () => {
    const store = new LocalArtifactStore(root);
    const ref = await store.put(new TextEncoder().encode('soon gone'), options);
    await rm(fileURLToPath(ref.uri));
    await expect(store.get(ref)).rejects.toMatchObject({ code: 'ArtifactNotFound', retryable: false });
    expect(await store.exists(ref)).toBe(false);
  });

  it('refuses refs outside its root instead of reading arbitrary files', async () => {
    const store = new LocalArtifactStore(join(root, 'store'));
    const ref = await store.put(new TextEncoder().encode('x'), options);
    const escaped = { ...ref, uri: ref.uri.replace('/store/', '/store/../elsewhere/') };
    await expect(store.get(escaped)).rejects.toMatchObject({ code: 'InvalidInput' });
    await expect(store.get({ ...ref, uri: 's3://bucket/sha256/aa/file.bin' })).rejects.toMatchObject({ code: 'InvalidInput' });
  });

  it('fails with retryable ArtifactStoreUnavailable when the root cannot be written', async () => {
    // A root below a regular file cannot be created, even by root (chmod would not stop uid 0).
    const blocker = join(root, 'not-a-folder');
    await writeFile(blocker, '');
    const store = new LocalArtifactStore(join(blocker, 'artifacts'));
    await expect(store.put(new TextEncoder().encode('x'), options)).rejects.toMatchObject({ code: 'ArtifactStoreUnavailable', retryable: true });
  });

  it('rejects extensions that could escape the key layout', async () => {
    const store = new LocalArtifactStore(root);
    for (const extension of ['../x', 'bin', '.a/b', '']) {
      await expect(store.put(new Uint8Array(1), { mediaType: 'x/y', extension })).rejects.toMatchObject({ code: 'InvalidInput' });
    }
  });
});
