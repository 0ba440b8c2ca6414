/** The narrow interfaces activity factories depend on (wired in workers/, replaced by nothing in tests: tests wire real ones). */
import type { ArtifactStore } from '../src/artifacts/store';

/** Anything that resolves an ArtifactRef's URI to the store holding it (src/artifacts ArtifactStores). */
export interface ArtifactResolver {
  storeFor(uri: string): ArtifactStore;
}

/** The pino subset activities use. Log lines carry pseudonymous case ids only. */
export interface ActivityLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
  debug(object: object, message: string): void;
}
