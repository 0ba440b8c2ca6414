/**
 * Bounded ingest: how readers touch a user's files without letting one file exhaust memory or
 * hang a worker. Every image reader (NIfTI, DICOM) goes through here.
 *
 * - `IngestLimits` caps what one input may cost: voxels of the volume its header declares, bytes
 *   read or inflated (file bytes plus decompressed bytes, per input), files in a DICOM folder.
 *   Limits are checked against what a header *declares* before anything is allocated or inflated;
 *   inflation itself stops at the declared size (`maxOutputLength`), so a gzip bomb costs at most
 *   the size its header promised.
 * - `readRegularFile` opens with O_NONBLOCK and checks the *opened* descriptor (fstat): a FIFO,
 *   a character device (`/dev/zero`, also through a symlink), a socket or a folder is refused with
 *   `InvalidVolume` at once instead of blocking a libuv thread forever or growing without bound.
 *   Its size must be within the byte limit before a byte is read.
 * Errors name the input by its label (src/io/input-label.ts), never by its path.
 */
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import { constants as zlibConstants, gunzipSync, inflateRawSync } from 'node:zlib';
import { invalidVolume } from '../core/volume/validate';

export interface IngestLimits {
  /** Voxels of one volume (nx·ny·nz as declared by the header). */
  readonly maxVoxels: number;
  /** Bytes one input may occupy: a file read, or its decompressed stream; for a DICOM folder, all files together. */
  readonly maxBytes: number;
  /** Files in one DICOM folder. */
  readonly maxFiles: number;
  /** Bytes of one DICOM file, read or inflated (a 4096×4096 int16 slice is 32 MiB; multi-frame files are not read). */
  readonly maxSliceBytes: number;
}

/**
 * Defaults: a 512×512×1024 CT (268 M voxels) and 2 GiB per input; 4,096 files of at most 64 MiB
 * per series. A whole-body thin-slice CT fits; a gzip bomb or a header promising terabytes does not.
 */
export const DEFAULT_INGEST_LIMITS: IngestLimits = { maxVoxels: 512 * 512 * 1024, maxBytes: 2 * 1024 ** 3, maxFiles: 4096, maxSliceBytes: 64 * 1024 ** 2 };

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

/** Kind of a non-regular file, for the message. */
function kindOf(stats: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean; isDirectory(): boolean }): string {
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  if (stats.isDirectory()) return 'a folder';
  return 'not a regular file';
}

/**
 * Reads a whole regular file, at most `maxBytes` long. Refuses (InvalidVolume, naming `name`)
 * anything that is not a regular file once opened, or is larger than the limit.
 * No file-system error becomes a cause: their messages hold the full path.
 */
export async function readRegularFile(path: string, name: string, maxBytes: number): Promise<Uint8Array> {
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO without a writer would otherwise block a thread-pool thread forever.
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (error) {
    throw invalidVolume(name, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw invalidVolume(name, `is ${kindOf(stats)}, not a regular file; mewm reads image files only`, { fileKind: kindOf(stats) });
    if (stats.size > maxBytes) {
      throw invalidVolume(name, `is ${mib(stats.size)}, above the ingest limit of ${mib(maxBytes)} (raise MEWM_INGEST_MAX_BYTES if this is a real CT)`, {
        bytes: stats.size,
        maxBytes,
      });
    }
    const bytes = new Uint8Array(stats.size);
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesRead } = await handle.read(bytes, offset, bytes.length - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    // A file that shrank while being read is short: the header checks catch that as truncation.
    return offset === bytes.length ? bytes : bytes.subarray(0, offset);
  } catch (error) {
    if ((error as { name?: string }).name === 'MewmError') throw error;
    throw invalidVolume(name, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * The first bytes of a gzip stream (at least `wanted` when the stream holds that many), inflating
 * only a small compressed prefix: deflate expands at most ~1032:1, so 16 KiB of input costs
 * at most ~17 MB. For reading a header before deciding how much to inflate.
 */
export function gunzipPrefix(input: Uint8Array, wanted: number): Uint8Array {
  let out: Uint8Array = new Uint8Array(0);
  for (const take of [1024, 16 * 1024]) {
    out = gunzipSync(input.subarray(0, Math.min(take, input.length)), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    if (out.length >= wanted || take >= input.length) break;
  }
  return out;
}

function isTooLarge(error: unknown): boolean {
  return (error as { code?: string })?.code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError;
}

/**
 * Gunzips at most `maxOutput` bytes; a stream that inflates further is refused as soon as it
 * passes the limit (zlib stops there: nothing beyond it is allocated).
 */
export function boundedGunzip(input: Uint8Array, maxOutput: number, name: string, what: string): Uint8Array {
  try {
    return gunzipSync(input, { maxOutputLength: Math.max(1, maxOutput) });
  } catch (error) {
    if (isTooLarge(error))
      throw invalidVolume(name, `inflates past ${what} (${mib(maxOutput)}): a corrupt file or a decompression bomb`, { maxBytes: maxOutput });
    throw invalidVolume(name, `is a truncated or corrupt gzip stream (${(error as Error).message})`);
  }
}

/** inflateRawSync with the same bound (deflated DICOM). */
export function boundedInflateRaw(input: Uint8Array, maxOutput: number, name: string, what: string): Uint8Array {
  try {
    return inflateRawSync(input, { maxOutputLength: Math.max(1, maxOutput) });
  } catch (error) {
    if (isTooLarge(error))
      throw invalidVolume(name, `inflates past ${what} (${mib(maxOutput)}): a corrupt file or a decompression bomb`, { maxBytes: maxOutput });
    throw invalidVolume(name, `holds a corrupt deflate stream (${(error as Error).message})`);
  }
}

/** Refuses a declared voxel count above the limit (before anything is allocated). */
export function assertVoxelBudget(shape: readonly number[], limits: IngestLimits, name: string): void {
  const voxels = shape.reduce((product, n) => product * n, 1);
  if (!(voxels <= limits.maxVoxels)) {
    throw invalidVolume(
      name,
      `declares ${shape.join('x')} = ${voxels} voxels, above the ingest limit of ${limits.maxVoxels} (raise MEWM_INGEST_MAX_VOXELS if this is a real CT)`,
      { shape: [...shape], maxVoxels: limits.maxVoxels },
    );
  }
}
