import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createServer } from 'node:net';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMewmError } from '../../src/core/errors';
import { S3ArtifactStore } from '../../src/artifacts/s3-store';
import { sha256Hex } from '../../src/artifacts/content-key';
import { startS3Server, s3rverCredentials, type LocalS3Server } from '../support/s3-server';

const options = { mediaType: 'application/octet-stream', extension: '.bin' } as const;

/** Deterministic pseudo-random bytes (xorshift), so a wrong offset or a dropped chunk changes the hash. */
function patternBytes(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = state & 0xff;
  }
  return out;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('S3ArtifactStore against a real S3-compatible server (s3rver on loopback)', () => {
  let s3: LocalS3Server;
  let store: S3ArtifactStore;
  const stores: S3ArtifactStore[] = [];
  const makeStore = (overrides: Partial<ConstructorParameters<typeof S3ArtifactStore>[0]> = {}) => {
    const created = new S3ArtifactStore({
      bucket: s3.bucket,
      prefix: 'mewm/test',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3rverCredentials,
      ...overrides,
    });
    stores.push(created);
    return created;
  };
  /** Where s3rver keeps an object's bytes on disk. */
  const objectFile = (uri: string) => join(s3.directory, `${uri.slice('s3://'.length)}._S3rver_object`);

  beforeAll(async () => {
    s3 = await startS3Server();
    store = makeStore();
  });
  afterAll(async () => {
    for (const created of stores) created.destroy();
    await s3?.close();
  });

  it('round-trips bytes under s3://bucket/prefix/sha256/<hh>/<hash><ext>', async () => {
    const bytes = new TextEncoder().encode('{"case":"synthetic-0001"}');
    const hash = sha256Hex(bytes);
    const ref = await store.put(bytes, { mediaType: 'application/json', extension: '.json' });
    expect(ref).toEqual({
      uri: `s3://${s3.bucket}/mewm/test/sha256/${hash.slice(0, 2)}/${hash}.json`,
      sha256: hash,
      bytes: bytes.byteLength,
      mediaType: 'application/json',
    });
    expect(store.location).toBe(`s3://${s3.bucket}/mewm/test`);
    expect(Buffer.from(await store.get(ref))).toEqual(Buffer.from(bytes));
    expect(await store.exists(ref)).toBe(true);
  });

  it("keeps a 10 MB+ object byte-exact, on the server's disk and read back", async () => {
    const bytes = patternBytes(10 * 1024 * 1024 + 17);
    const ref = await store.put(bytes, options);
    expect((await stat(objectFile(ref.uri))).size).toBe(bytes.byteLength);
    const back = await store.get(ref);
    expect(back.byteLength).toBe(bytes.byteLength);
    expect(sha256Hex(back)).toBe(sha256Hex(bytes));
  });

  it('skips the upload when the content already exists (idempotent put)', async () => {
    const bytes = patternBytes(64 * 1024, 7);
    const first = await store.put(bytes, options);
    const writtenAt = (await stat(objectFile(first.uri))).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await makeStore().put(bytes.slice(), options);
    expect(second).toEqual(first);
    expect((await stat(objectFile(first.uri))).mtimeMs).toBe(writtenAt);
  });

  it('reports a missing key as ArtifactNotFound and exists() as false', async () => {
    const absent = sha256Hex(new TextEncoder().encode('never stored'));
    const ref = { uri: `s3://${s3.bucket}/mewm/test/sha256/${absent.slice(0, 2)}/${absent}.bin`, sha256: absent, bytes: 12, mediaType: options.mediaType };
    await expect(store.get(ref)).rejects.toMatchObject({ code: 'ArtifactNotFound', retryable: false });
    expect(await store.exists(ref)).toBe(false);
  });

  it('detects an object overwritten behind its back (ArtifactCorrupt), and a retried put repairs it', async () => {
    const bytes = new TextEncoder().encode('segmentation of case synthetic-0002');
    const ref = await store.put(bytes, options);
    const raw = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3rverCredentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    try {
      await raw.send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: ref.uri.slice(`s3://${s3.bucket}/`.length),
          Body: new TextEncoder().encode('something else entirely'),
          Metadata: { sha256: ref.sha256 },
        }),
      );
    } finally {
      raw.destroy();
    }
    const failure = await store.get(ref).catch((error: unknown) => error);
    expect(isMewmError(failure, 'ArtifactCorrupt')).toBe(true);

    await store.put(bytes, options);
    expect(Buffer.from(await store.get(ref))).toEqual(Buffer.from(bytes));
  });

  it('turns rejected credentials into non-retryable InvalidConfig that says what to fix', async () => {
    // s3rver checks the access key id but not SigV4 signatures, so an unknown key id is the refusal it can produce.
    const wrong = makeStore({ credentials: { accessKeyId: 'NOT-A-KNOWN-KEY', secretAccessKey: 'S3RVER' } });
    const failure = await wrong.put(new TextEncoder().encode('x'), options).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'InvalidConfig', retryable: false });
    expect((failure as Error).message).toMatch(/HTTP 403.*check AWS_ACCESS_KEY_ID/);
    const ref = await store.put(new TextEncoder().encode('readable with the right key'), options);
    await expect(wrong.get(ref)).rejects.toMatchObject({ code: 'InvalidConfig', message: expect.stringMatching(/InvalidAccessKeyId/) });
  });

  it('turns a missing bucket into InvalidConfig naming the bucket', async () => {
    const wrong = makeStore({ bucket: 'no-such-bucket' });
    await expect(wrong.put(new TextEncoder().encode('x'), options)).rejects.toMatchObject({
      code: 'InvalidConfig',
      message: expect.stringContaining('no-such-bucket'),
    });
  });

  it('reads credentials from the default chain (environment) when none are given', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = s3rverCredentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3rverCredentials.secretAccessKey;
    try {
      const fromEnv = makeStore({ credentials: undefined });
      const ref = await fromEnv.put(new TextEncoder().encode('from the default chain'), options);
      expect(Buffer.from(await fromEnv.get(ref)).toString()).toBe('from the default chain');
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });

  it('reports an unreachable endpoint as retryable ArtifactStoreUnavailable, promptly', async () => {
    const port = await closedPort();
    const unreachable = makeStore({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1, connectTimeoutMs: 500, requestTimeoutMs: 1_000 });
    const failure = await unreachable.put(new TextEncoder().encode('x'), options).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'ArtifactStoreUnavailable', retryable: true });
    expect((failure as Error).message).toContain(`127.0.0.1:${port}`);
  }, 10_000);

  it('refuses refs of another bucket or prefix', async () => {
    const ref = await store.put(new TextEncoder().encode('mine'), options);
    await expect(store.get({ ...ref, uri: ref.uri.replace('/mewm/test/', '/other/') })).rejects.toMatchObject({ code: 'InvalidInput' });
    await expect(store.get({ ...ref, uri: ref.uri.replace(`s3://${s3.bucket}/`, 's3://another-bucket/') })).rejects.toMatchObject({ code: 'InvalidInput' });
  });
});
