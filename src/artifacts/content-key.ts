import { createHash } from 'node:crypto';
import { MewmError } from '../core/errors';
import type { ArtifactRef, PutOptions } from './store';

const extensionPattern = /^(\.[a-z0-9]+){1,3}$/i;
const sha256Pattern = /^[0-9a-f]{64}$/;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Rejects put options that would make an unsafe or unreadable key (`.nii.gz` ok, `../x` not). */
export function checkPutOptions(options: PutOptions): void {
  if (!extensionPattern.test(options.extension)) {
    throw new MewmError('InvalidInput', `artifact extension must look like ".nii.gz" or ".png", got ${JSON.stringify(options.extension)}`);
  }
  if (options.mediaType.trim() === '') throw new MewmError('InvalidInput', 'artifact mediaType must not be empty');
}

/** Relative key of a content-addressed artifact: `sha256/<first two hex>/<hash><extension>`. */
export function contentKey(sha256: string, extension: string): string {
  return `sha256/${sha256.slice(0, 2)}/${sha256}${extension}`;
}

/** Throws ArtifactCorrupt when the bytes read back are not the ones the ref names. */
export function verifyContent(ref: ArtifactRef, bytes: Uint8Array): void {
  const actual = sha256Hex(bytes);
  if (bytes.byteLength !== ref.bytes || actual !== ref.sha256) {
    throw new MewmError(
      'ArtifactCorrupt',
      `artifact ${ref.uri} does not match its content hash (expected ${ref.bytes} bytes sha256 ${ref.sha256}, read ${bytes.byteLength} bytes sha256 ${actual})`,
      { uri: ref.uri, expectedSha256: ref.sha256, actualSha256: actual, expectedBytes: ref.bytes, actualBytes: bytes.byteLength },
    );
  }
}

export function checkRef(ref: ArtifactRef): void {
  if (!sha256Pattern.test(ref.sha256) || !Number.isInteger(ref.bytes) || ref.bytes < 0) {
    throw new MewmError('InvalidInput', `malformed artifact ref for ${ref.uri}: sha256 must be 64 lowercase hex digits and bytes a non-negative integer`);
  }
}
