import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MewmError } from '../core/errors';
import { checkPutOptions, checkRef, contentKey, sha256Hex, verifyContent } from './content-key';
import { checkpointNamePattern, type ArtifactRef, type ArtifactStore, type CheckpointStore, type PutOptions } from './store';

/** Permissions of what a local store creates (config `artifacts.fileMode` / `dirMode`). */
export interface LocalStoreModes {
  /** Artifact files; default 0o600: CTs, masks and case sources (which hold input paths) are patient data. */
  readonly fileMode?: number;
  /** Folders the store creates; default 0o700. */
  readonly dirMode?: number;
}

export const DEFAULT_FILE_MODE = 0o600;
export const DEFAULT_DIR_MODE = 0o700;

/**
 * Content-addressed artifacts on a local (or network-mounted) filesystem under `rootDir`:
 * `<rootDir>/sha256/<hh>/<hash><extension>`, URIs `file:///…`. Writes go to a temporary file in
 * the target folder and are renamed into place, so a reader never sees half an artifact and two
 * workers writing the same content race harmlessly. Files are created owner-only (0600, folders
 * 0700) unless `modes` says otherwise: artifacts are patient data at rest.
 */
export class LocalArtifactStore implements ArtifactStore, CheckpointStore {
  readonly rootDir: string;
  readonly location: string;
  readonly fileMode: number;
  readonly dirMode: number;

  constructor(rootDir: string, modes: LocalStoreModes = {}) {
    if (rootDir.trim() === '') throw new MewmError('InvalidConfig', 'the local artifact root must be a folder path, got an empty string');
    this.rootDir = resolve(rootDir);
    this.location = pathToFileURL(this.rootDir).href;
    this.fileMode = modes.fileMode ?? DEFAULT_FILE_MODE;
    this.dirMode = modes.dirMode ?? DEFAULT_DIR_MODE;
  }

  async put(bytes: Uint8Array, options: PutOptions): Promise<ArtifactRef> {
    checkPutOptions(options);
    const sha256 = sha256Hex(bytes);
    const path = join(this.rootDir, ...contentKey(sha256, options.extension).split('/'));
    const ref: ArtifactRef = { uri: pathToFileURL(path).href, sha256, bytes: bytes.byteLength, mediaType: options.mediaType };
    if (await this.holdsIntact(path, ref)) return ref;

    const temporary = `${path}.tmp-${process.pid}-${randomUUID()}`;
    try {
      await mkdir(dirname(path), { recursive: true, mode: this.dirMode });
      // `mode` applies at creation (the umask may only remove bits); chmod makes it exact.
      await writeFile(temporary, bytes, { mode: this.fileMode });
      await chmod(temporary, this.fileMode);
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw unavailable(`cannot write artifact under ${this.location}`, error);
    }
    return ref;
  }

  async get(ref: ArtifactRef): Promise<Uint8Array> {
    checkRef(ref);
    const path = this.pathOf(ref);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') throw new MewmError('ArtifactNotFound', `artifact ${ref.uri} does not exist`, { uri: ref.uri });
      throw unavailable(`cannot read artifact ${ref.uri}`, error);
    }
    verifyContent(ref, bytes);
    return bytes;
  }

  async exists(ref: ArtifactRef): Promise<boolean> {
    try {
      await stat(this.pathOf(ref));
      return true;
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return false;
      throw unavailable(`cannot reach artifact ${ref.uri}`, error);
    }
  }

  async putCheckpoint(name: string, bytes: Uint8Array): Promise<void> {
    const path = this.checkpointPath(name);
    const temporary = `${path}.tmp-${process.pid}-${randomUUID()}`;
    try {
      await mkdir(dirname(path), { recursive: true, mode: this.dirMode });
      await writeFile(temporary, bytes, { mode: this.fileMode });
      await chmod(temporary, this.fileMode);
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw unavailable(`cannot write checkpoint under ${this.location}`, error);
    }
  }

  async getCheckpoint(name: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.checkpointPath(name));
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw unavailable(`cannot read checkpoint under ${this.location}`, error);
    }
  }

  private checkpointPath(name: string): string {
    if (!checkpointNamePattern.test(name)) throw new MewmError('InvalidInput', 'a checkpoint name must be a hex hash');
    return join(this.rootDir, 'checkpoints', `${name}.json`);
  }

  private pathOf(ref: ArtifactRef): string {
    let path: string;
    try {
      path = fileURLToPath(ref.uri);
    } catch {
      throw new MewmError('InvalidInput', `artifact URI ${ref.uri} is not a file:// URI; resolve its store with storeFor(uri)`, { uri: ref.uri });
    }
    const inside = relative(this.rootDir, path);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
      throw new MewmError('InvalidInput', `artifact ${ref.uri} lies outside the store ${this.location}; resolve its store with storeFor(uri)`, {
        uri: ref.uri,
        location: this.location,
      });
    }
    return path;
  }

  /** A retried put over a damaged file rewrites it instead of trusting its name. */
  private async holdsIntact(path: string, ref: ArtifactRef): Promise<boolean> {
    try {
      const existing = await readFile(path);
      return existing.byteLength === ref.bytes && sha256Hex(existing) === ref.sha256;
    } catch {
      return false;
    }
  }
}

function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function unavailable(message: string, error: unknown): MewmError {
  const code = errnoOf(error);
  return new MewmError(
    'ArtifactStoreUnavailable',
    `${message}: ${code ?? (error instanceof Error ? error.message : String(error))}`,
    { errno: code },
    { cause: error },
  );
}
