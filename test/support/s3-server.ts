import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver ships CommonJS without types; this is the only file that touches it.
// @ts-expect-error no type declarations for s3rver
import S3rver from 's3rver';

/** s3rver's fixed development credentials. It rejects unknown key ids but does not verify SigV4 signatures. */
export const s3rverCredentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface LocalS3Server {
  /** e.g. `http://127.0.0.1:40123` */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  /** Folder where s3rver keeps objects as plain files. */
  readonly directory: string;
  close(): Promise<void>;
}

/**
 * Starts a real S3-compatible HTTP server (s3rver) on loopback, on an ephemeral port, with one
 * empty bucket. Objects live in a fresh temporary folder removed by `close()`.
 */
export async function startS3Server(bucket = 'mewm-test'): Promise<LocalS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'mewm-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const address = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    bucket,
    directory,
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
