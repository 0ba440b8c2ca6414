import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MewmError } from '../core/errors';
import { LocalArtifactStore, type LocalStoreModes } from './local-store';
import { S3ArtifactStore, type S3ArtifactStoreOptions } from './s3-store';
import type { ArtifactStore } from './store';

export type { ArtifactRef, ArtifactStore, PutOptions } from './store';
export { DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, LocalArtifactStore, type LocalStoreModes } from './local-store';
export { S3ArtifactStore, type S3ArtifactStoreOptions } from './s3-store';

/** Where artifacts live. `root` is an absolute folder; `prefix` has no leading or trailing slash. */
export type ArtifactStoreConfig =
  | { readonly kind: 'local'; readonly root: string }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      readonly prefix: string;
      readonly endpoint?: string;
      readonly region?: string;
      readonly forcePathStyle?: boolean;
    };

/** How to reach S3 for `s3://` locations: the URI names bucket and prefix, not the server. */
export interface S3Connection {
  readonly endpoint?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
}

/** Extra S3 client settings that do not belong in a location (tests, timeouts, explicit keys). */
export type S3ClientTuning = Omit<S3ArtifactStoreOptions, 'bucket' | 'prefix' | 'endpoint' | 'region' | 'forcePathStyle'>;

export function createArtifactStore(config: ArtifactStoreConfig, tuning: S3ClientTuning = {}, modes: LocalStoreModes = {}): ArtifactStore {
  switch (config.kind) {
    case 'local':
      return new LocalArtifactStore(config.root, modes);
    case 's3': {
      const { kind: _kind, ...location } = config;
      return new S3ArtifactStore({ ...tuning, ...location });
    }
  }
}

/**
 * Parses a store location as users write it (`MEWM_ARTIFACTS`): `file:///abs/folder`, a plain
 * folder path (resolved against the working directory), or `s3://bucket/optional/prefix`.
 */
export function parseArtifactLocation(location: string, s3: S3Connection = {}): ArtifactStoreConfig {
  const text = location.trim();
  if (text === '') throw new MewmError('InvalidConfig', 'artifact location is empty: set MEWM_ARTIFACTS to a folder, file:///folder or s3://bucket/prefix');
  if (text.startsWith('s3://')) {
    const [bucket = '', ...rest] = text.slice('s3://'.length).split('/');
    if (bucket === '') throw new MewmError('InvalidConfig', `artifact location ${text} names no bucket: write s3://<bucket>/<prefix>`);
    return { kind: 's3', bucket, prefix: rest.filter((part) => part !== '').join('/'), ...definedOnly(s3) };
  }
  if (text.startsWith('file:')) {
    let root: string;
    try {
      root = fileURLToPath(text);
    } catch (error) {
      throw new MewmError('InvalidConfig', `artifact location ${text} is not a valid file URI: write file:///absolute/folder`, {}, { cause: error });
    }
    return { kind: 'local', root };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new MewmError('InvalidConfig', `artifact location ${text} uses an unsupported scheme: use a folder, file:///folder or s3://bucket/prefix`);
  }
  return { kind: 'local', root: isAbsolute(text) ? text : resolve(text) };
}

/** The `location` string a config produces, e.g. for audit records. */
export function formatArtifactLocation(config: ArtifactStoreConfig): string {
  if (config.kind === 'local') return pathToFileURL(resolve(config.root)).href;
  return config.prefix === '' ? `s3://${config.bucket}` : `s3://${config.bucket}/${config.prefix}`;
}

/**
 * The store location that holds an artifact URI: content keys end in `sha256/<hh>/<file>`, and
 * everything before that is the store. Lets a reader resolve refs written by any worker.
 */
export function artifactLocationOf(uri: string, s3: S3Connection = {}): ArtifactStoreConfig {
  const match = /^(.*)\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}(\.[A-Za-z0-9.]+)?$/.exec(uri);
  if (match === null || match[1] === undefined) {
    throw new MewmError('InvalidInput', `${uri} is not a content-addressed artifact URI (…/sha256/<hh>/<hash><ext>)`, { uri });
  }
  const storeUri = match[1];
  if (!storeUri.startsWith('file:') && !storeUri.startsWith('s3://')) {
    throw new MewmError('InvalidInput', `artifact URI ${uri} must start with file:// or s3://`, { uri });
  }
  // A local root of `/` leaves `file://` here; keep it a valid file URI.
  return parseArtifactLocation(storeUri === 'file://' ? 'file:///' : storeUri, s3);
}

/** A new store for the location holding `uri`; prefer one `ArtifactStores` per process to reuse connections. */
export function storeFor(uri: string, s3: S3Connection = {}, tuning: S3ClientTuning = {}): ArtifactStore {
  return createArtifactStore(artifactLocationOf(uri, s3), tuning);
}

/**
 * Resolves and caches stores by location, so activities can read any ref's URI. The S3
 * connection (endpoint, region) applies to every s3:// location it meets.
 */
export class ArtifactStores {
  private readonly stores = new Map<string, ArtifactStore>();

  constructor(
    private readonly s3: S3Connection = {},
    private readonly tuning: S3ClientTuning = {},
    /** Permissions of local artifacts (default 0600 files, 0700 folders). */
    private readonly modes: LocalStoreModes = {},
  ) {}

  /** The store for a config; its s3 fields fill in from this resolver's connection where absent. */
  forConfig(config: ArtifactStoreConfig): ArtifactStore {
    const location = formatArtifactLocation(config);
    let store = this.stores.get(location);
    if (store === undefined) {
      const { kind: _kind, ...fields } = config;
      store = createArtifactStore(
        config.kind === 's3' ? { ...config, ...definedOnly(this.s3), ...definedOnly(fields as S3Connection) } : config,
        this.tuning,
        this.modes,
      );
      this.stores.set(location, store);
    }
    return store;
  }

  /** The store holding `uri` (an ArtifactRef's URI). */
  storeFor(uri: string): ArtifactStore {
    return this.forConfig(artifactLocationOf(uri, this.s3));
  }

  /** Releases S3 connection pools. */
  close(): void {
    for (const store of this.stores.values()) if (store instanceof S3ArtifactStore) store.destroy();
    this.stores.clear();
  }
}

function definedOnly(s3: S3Connection): S3Connection {
  return {
    ...(s3.endpoint === undefined ? {} : { endpoint: s3.endpoint }),
    ...(s3.region === undefined ? {} : { region: s3.region }),
    ...(s3.forcePathStyle === undefined ? {} : { forcePathStyle: s3.forcePathStyle }),
  };
}
