/**
 * A per-worker LRU of decoded volumes keyed by content hash. Safe because artifacts are
 * content-addressed: a sha256 names exactly one volume. Simulation writes a CT, segmentation and
 * scoring on the same worker read it back without gunzip and decode. Volumes are shared, not
 * copied: callers must treat them as read-only (the WorldModel contract already does).
 */
import type { ArtifactRef, ArtifactStore } from '../src/artifacts/store';
import { getCtVolume, getLabelVolume, putVolume } from '../src/artifacts/volumes';
import type { Volume } from '../src/core/volume/volume';
import type { ArtifactResolver } from './deps';

export class VolumeCache {
  private readonly entries = new Map<string, Volume>();
  private bytes = 0;

  /**
   * 256 MiB: most of one beam step's CTs (3.5 MiB each at 96³); a miss costs a read of a stored
   * (level-0) `.nii.gz` and its sha256, ~10–15 ms. Twice that pushed a default plan's peak RSS past
   * 1.5 GB once the ONNX sessions ran on two threads (docs/performance.md, "Memory").
   */
  constructor(private readonly maxBytes = 256 * 1024 * 1024) {}

  private remember(sha256: string, volume: Volume): void {
    if (this.entries.has(sha256) || volume.data.byteLength > this.maxBytes) return;
    this.entries.set(sha256, volume);
    this.bytes += volume.data.byteLength;
    for (const [key, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= old.data.byteLength;
    }
  }

  private recall(sha256: string): Volume | undefined {
    const volume = this.entries.get(sha256);
    if (volume) {
      this.entries.delete(sha256);
      this.entries.set(sha256, volume);
    }
    return volume;
  }

  async put(store: ArtifactStore, volume: Volume, options: { labels?: boolean } = {}): Promise<ArtifactRef> {
    const ref = await putVolume(store, volume, options);
    this.remember(ref.sha256, volume);
    return ref;
  }

  async ct(artifacts: ArtifactResolver, ref: ArtifactRef): Promise<Volume<Float32Array>> {
    const hit = this.recall(ref.sha256);
    if (hit && hit.data instanceof Float32Array) return hit as Volume<Float32Array>;
    const volume = await getCtVolume(artifacts.storeFor(ref.uri), ref);
    this.remember(ref.sha256, volume);
    return volume;
  }

  async labels(artifacts: ArtifactResolver, ref: ArtifactRef): Promise<Volume<Uint8Array>> {
    const hit = this.recall(ref.sha256);
    if (hit && hit.data instanceof Uint8Array) return hit as Volume<Uint8Array>;
    const volume = await getLabelVolume(artifacts.storeFor(ref.uri), ref);
    this.remember(ref.sha256, volume);
    return volume;
  }
}
