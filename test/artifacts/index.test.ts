import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArtifactStores, artifactLocationOf, createArtifactStore, formatArtifactLocation, parseArtifactLocation } from '../../src/artifacts/index';
import { LocalArtifactStore } from '../../src/artifacts/local-store';
import { S3ArtifactStore } from '../../src/artifacts/s3-store';
import { startS3Server, s3rverCredentials } from '../support/s3-server';

const hash = 'ab'.padEnd(64, '0');

describe('artifact locations', () => {
  it.each([
    ['s3://bucket-a/runs/2026', {}, { kind: 's3', bucket: 'bucket-a', prefix: 'runs/2026' }],
    ['s3://bucket-a', {}, { kind: 's3', bucket: 'bucket-a', prefix: '' }],
    [
      's3://bucket-a/runs/',
      { endpoint: 'http://minio:9000', forcePathStyle: true },
      { kind: 's3', bucket: 'bucket-a', prefix: 'runs', endpoint: 'http://minio:9000', forcePathStyle: true },
    ],
    ['file:///data/artifacts', {}, { kind: 'local', root: '/data/artifacts' }],
    ['/data/artifacts', {}, { kind: 'local', root: '/data/artifacts' }],
    ['.data/artifacts', {}, { kind: 'local', root: resolve('.data/artifacts') }],
  ] as const)('parses %s', (text, s3, expected) => {
    expect(parseArtifactLocation(text, s3)).toEqual(expected);
  });

  it.each(['', 's3://', 's3:///prefix', 'https://example.org/artifacts', 'file://host-name/share'])('refuses %j with InvalidConfig', (text) => {
    expect(() => parseArtifactLocation(text)).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
  });

  it('formats a config back to the location a store reports', () => {
    expect(formatArtifactLocation({ kind: 's3', bucket: 'b1c', prefix: 'p/q' })).toBe('s3://b1c/p/q');
    expect(formatArtifactLocation({ kind: 'local', root: '/data/a' })).toBe(new LocalArtifactStore('/data/a').location);
  });

  it('finds the store of a ref URI', () => {
    expect(artifactLocationOf(`s3://bkt/a/b/sha256/ab/${hash}.nii.gz`, { region: 'eu-west-1' })).toEqual({
      kind: 's3',
      bucket: 'bkt',
      prefix: 'a/b',
      region: 'eu-west-1',
    });
    expect(artifactLocationOf(`s3://bkt/sha256/ab/${hash}.json`)).toEqual({ kind: 's3', bucket: 'bkt', prefix: '' });
    expect(artifactLocationOf(`file:///srv/art/sha256/ab/${hash}.png`)).toEqual({ kind: 'local', root: '/srv/art' });
    expect(() => artifactLocationOf('s3://bkt/some/file.nii.gz')).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    expect(() => artifactLocationOf(`/srv/art/sha256/ab/${hash}.png`)).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });

  it('creates the store a config names', () => {
    expect(createArtifactStore({ kind: 'local', root: '/tmp/x' })).toBeInstanceOf(LocalArtifactStore);
    const s3 = createArtifactStore({ kind: 's3', bucket: 'bkt', prefix: 'p' });
    expect(s3).toBeInstanceOf(S3ArtifactStore);
    expect(s3.location).toBe('s3://bkt/p');
    (s3 as S3ArtifactStore).destroy();
  });
});

describe('ArtifactStores.storeFor', () => {
  it('reads refs written by a local and an S3 store through one resolver', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mewm-resolve-'));
    const s3 = await startS3Server();
    const stores = new ArtifactStores({ endpoint: s3.endpoint, forcePathStyle: true }, { credentials: s3rverCredentials });
    try {
      const localRef = await createArtifactStore({ kind: 'local', root }).put(new TextEncoder().encode('local bytes'), {
        mediaType: 'text/plain',
        extension: '.txt',
      });
      const writer = stores.forConfig({ kind: 's3', bucket: s3.bucket, prefix: 'cohort-7' });
      const s3Ref = await writer.put(new TextEncoder().encode('s3 bytes'), { mediaType: 'text/plain', extension: '.txt' });

      expect(Buffer.from(await stores.storeFor(localRef.uri).get(localRef)).toString()).toBe('local bytes');
      expect(Buffer.from(await stores.storeFor(s3Ref.uri).get(s3Ref)).toString()).toBe('s3 bytes');
      expect(stores.storeFor(s3Ref.uri)).toBe(writer);
    } finally {
      stores.close();
      await s3.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
