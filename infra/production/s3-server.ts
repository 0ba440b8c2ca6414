/**
 * A standalone S3-compatible server (s3rver, the one the tests use) for the production-topology
 * run: loopback only, a fixed port, objects kept as files in a folder that outlives a restart.
 *
 *   node --import tsx infra/production/s3-server.ts --port 14569 --dir DIR --bucket mewm
 *
 * Prints `s3 ready http://127.0.0.1:PORT` once it listens; stops on SIGTERM / SIGINT.
 * Credentials: s3rver's fixed development pair (AWS_ACCESS_KEY_ID=S3RVER, AWS_SECRET_ACCESS_KEY=S3RVER).
 * Clients must set the AWS SDK's checksums to WHEN_REQUIRED (mewm's S3 store does): s3rver would
 * store the SDK's default trailing-checksum framing as object data.
 */
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
// s3rver ships CommonJS without types.
// @ts-expect-error no type declarations for s3rver
import S3rver from 's3rver';

const { values } = parseArgs({ options: { port: { type: 'string' }, dir: { type: 'string' }, bucket: { type: 'string' } } });
if (!values.port || !values.dir || !values.bucket) {
  process.stderr.write('usage: s3-server.ts --port N --dir DIR --bucket NAME\n');
  process.exit(2);
}
await mkdir(values.dir, { recursive: true });
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(values.port),
  silent: true,
  directory: values.dir,
  configureBuckets: [{ name: values.bucket }],
});
const address = (await server.run()) as AddressInfo;
process.stdout.write(`s3 ready http://127.0.0.1:${address.port}\n`);
const stop = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
