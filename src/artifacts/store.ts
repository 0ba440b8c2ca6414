/**
 * Artifact store: where volumes, images and audit blobs live. Temporal payloads carry only
 * ArtifactRefs (URI + sha256 + size), never voxels. Keys are content-addressed
 * (`sha256/<hh>/<hash><extension>`), so writing the same bytes twice is free and idempotent,
 * which is what retried activities need.
 *
 * Implementations: LocalArtifactStore (file://, the embedded default) and S3ArtifactStore
 * (s3://bucket/prefix, any S3-compatible endpoint through AWS SDK v3).
 */
export interface ArtifactRef {
  /** e.g. `file:///data/artifacts/sha256/ab/ab12....nii.gz` or `s3://bucket/prefix/sha256/ab/ab12....nii.gz` */
  readonly uri: string;
  /** Hex sha256 of the stored bytes. */
  readonly sha256: string;
  readonly bytes: number;
  readonly mediaType: string;
}

export interface PutOptions {
  readonly mediaType: string;
  /** File extension including the dot, e.g. `.nii.gz`, `.png`, `.json`. */
  readonly extension: string;
}

export interface ArtifactStore {
  /** Stable description for logs and audit, e.g. `file:///…/artifacts` or `s3://bucket/prefix`. */
  readonly location: string;
  put(bytes: Uint8Array, options: PutOptions): Promise<ArtifactRef>;
  /** Reads and verifies the sha256 (ArtifactCorrupt on mismatch, ArtifactNotFound when absent). */
  get(ref: ArtifactRef): Promise<Uint8Array>;
  exists(ref: ArtifactRef): Promise<boolean>;
}

/**
 * Small named, mutable documents next to the artifacts (`<location>/checkpoints/<name>.json`):
 * what a retried activity needs to find the work its crashed attempt finished, where a
 * content-addressed key cannot be known in advance. Names are opaque hashes (no case data).
 * Last write wins; a missing checkpoint reads as undefined.
 */
export interface CheckpointStore {
  putCheckpoint(name: string, bytes: Uint8Array): Promise<void>;
  getCheckpoint(name: string): Promise<Uint8Array | undefined>;
}

export function supportsCheckpoints(store: ArtifactStore): store is ArtifactStore & CheckpointStore {
  return typeof (store as Partial<CheckpointStore>).putCheckpoint === 'function' && typeof (store as Partial<CheckpointStore>).getCheckpoint === 'function';
}

export const checkpointNamePattern = /^[0-9a-f]{16,64}$/;
