import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { MewmError } from '../core/errors';
import { checkPutOptions, checkRef, contentKey, sha256Hex, verifyContent } from './content-key';
import { checkpointNamePattern, type ArtifactRef, type ArtifactStore, type CheckpointStore, type PutOptions } from './store';

export interface S3ArtifactStoreOptions {
  readonly bucket: string;
  /** Key prefix inside the bucket, without leading or trailing slash; '' for the bucket root. */
  readonly prefix?: string;
  /** S3-compatible endpoint (MinIO, Ceph, s3rver…), e.g. `http://minio:9000`; AWS when absent. */
  readonly endpoint?: string;
  /** Defaults to `us-east-1`; S3-compatible servers mostly ignore it, AWS follows region redirects. */
  readonly region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO and most S3-compatible servers need. */
  readonly forcePathStyle?: boolean;
  /** Explicit credentials; when absent the AWS default chain (env, profile, web identity, IMDS) is used. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** TCP connect timeout per attempt (default 5 000 ms). */
  readonly connectTimeoutMs?: number;
  /** Whole request timeout per attempt, sized for the largest volume (default 120 000 ms). */
  readonly requestTimeoutMs?: number;
  /** SDK attempts per call including the first (default 3); Temporal retries the activity beyond that. */
  readonly maxAttempts?: number;
}

const sha256MetadataKey = 'sha256';

/**
 * Content-addressed artifacts in an S3 bucket: `s3://<bucket>/<prefix>/sha256/<hh>/<hash><ext>`.
 * The sha256 is also stored as object metadata; the ref's hash is verified on every read.
 */
export class S3ArtifactStore implements ArtifactStore, CheckpointStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly location: string;
  private readonly client: S3Client;
  private readonly endpointForMessages: string;

  constructor(options: S3ArtifactStoreOptions) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new MewmError(
        'InvalidConfig',
        `S3 bucket name ${JSON.stringify(options.bucket)} is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens); check MEWM_ARTIFACTS=s3://<bucket>/<prefix>`,
      );
    }
    this.bucket = options.bucket;
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.location = this.prefix === '' ? `s3://${this.bucket}` : `s3://${this.bucket}/${this.prefix}`;
    this.endpointForMessages = options.endpoint ?? 'AWS S3';
    this.client = new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      forcePathStyle: options.forcePathStyle ?? false,
      followRegionRedirects: true,
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      // Trailing CRC32 framing is added by default since SDK 3.729; several S3-compatible servers store it as data.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs ?? 5_000,
        requestTimeout: options.requestTimeoutMs ?? 120_000,
        throwOnRequestTimeout: true,
      },
    });
  }

  async put(bytes: Uint8Array, options: PutOptions): Promise<ArtifactRef> {
    checkPutOptions(options);
    const sha256 = sha256Hex(bytes);
    const key = this.keyFor(contentKey(sha256, options.extension));
    const ref: ArtifactRef = { uri: `s3://${this.bucket}/${key}`, sha256, bytes: bytes.byteLength, mediaType: options.mediaType };

    const existing = await this.head(key, ref.uri);
    if (existing !== undefined && existing.bytes === ref.bytes && existing.sha256 === sha256) return ref;

    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: options.mediaType,
          Metadata: { [sha256MetadataKey]: sha256 },
        }),
      );
    } catch (error) {
      throw this.translate(error, `put ${ref.uri}`, ref.uri);
    }
    return ref;
  }

  async get(ref: ArtifactRef): Promise<Uint8Array> {
    checkRef(ref);
    const key = this.keyOf(ref);
    let bytes: Uint8Array;
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (response.Body === undefined) throw new MewmError('ArtifactCorrupt', `artifact ${ref.uri} came back without a body`, { uri: ref.uri });
      bytes = await response.Body.transformToByteArray();
    } catch (error) {
      throw this.translate(error, `get ${ref.uri}`, ref.uri);
    }
    verifyContent(ref, bytes);
    return bytes;
  }

  async exists(ref: ArtifactRef): Promise<boolean> {
    return (await this.head(this.keyOf(ref), ref.uri)) !== undefined;
  }

  async putCheckpoint(name: string, bytes: Uint8Array): Promise<void> {
    const key = this.checkpointKey(name);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentType: 'application/json' }));
    } catch (error) {
      throw this.translate(error, 'put checkpoint', `${this.location}/checkpoints`);
    }
  }

  async getCheckpoint(name: string): Promise<Uint8Array | undefined> {
    const key = this.checkpointKey(name);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return response.Body === undefined ? undefined : await response.Body.transformToByteArray();
    } catch (error) {
      const translated = this.translate(error, 'get checkpoint', `${this.location}/checkpoints`);
      if (translated.code === 'ArtifactNotFound') return undefined;
      throw translated;
    }
  }

  private checkpointKey(name: string): string {
    if (!checkpointNamePattern.test(name)) throw new MewmError('InvalidInput', 'a checkpoint name must be a hex hash');
    return this.keyFor(`checkpoints/${name}.json`);
  }

  /** Closes pooled connections (tests, short-lived CLI runs). */
  destroy(): void {
    this.client.destroy();
  }

  private async head(key: string, uri: string): Promise<{ bytes: number; sha256: string | undefined } | undefined> {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { bytes: response.ContentLength ?? -1, sha256: response.Metadata?.[sha256MetadataKey] };
    } catch (error) {
      const translated = this.translate(error, `head ${uri}`, uri);
      if (translated.code === 'ArtifactNotFound') return undefined;
      throw translated;
    }
  }

  private keyFor(relativeKey: string): string {
    return this.prefix === '' ? relativeKey : `${this.prefix}/${relativeKey}`;
  }

  private keyOf(ref: ArtifactRef): string {
    const bucketRoot = `s3://${this.bucket}/`;
    const key = ref.uri.startsWith(bucketRoot) ? ref.uri.slice(bucketRoot.length) : undefined;
    if (key === undefined || (this.prefix !== '' && !key.startsWith(`${this.prefix}/`)) || key.split('/').includes('..')) {
      throw new MewmError('InvalidInput', `artifact ${ref.uri} lies outside the store ${this.location}; resolve its store with storeFor(uri)`, {
        uri: ref.uri,
        location: this.location,
      });
    }
    return key;
  }

  private translate(error: unknown, operation: string, uri: string): MewmError {
    if (error instanceof MewmError) return error;
    const name = error instanceof Error ? error.name : '';
    const errno = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
    const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
    // HEAD responses have no body, so the SDK names their errors 'Unknown' or 'NotFound': the status says more.
    const reason = [name === 'Unknown' ? '' : name, errno, status === undefined ? '' : `HTTP ${status}`].filter((part) => part !== '').join(' ');
    const details = { operation, uri, endpoint: this.endpointForMessages, reason };

    if (name === 'NoSuchBucket') {
      return new MewmError(
        'InvalidConfig',
        `S3 bucket ${this.bucket} does not exist at ${this.endpointForMessages}: create it or fix MEWM_ARTIFACTS / MEWM_S3_ENDPOINT`,
        details,
        { cause: error },
      );
    }
    if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
      return new MewmError('ArtifactNotFound', `artifact ${uri} does not exist`, details, { cause: error });
    }
    if (name === 'CredentialsProviderError') {
      return new MewmError(
        'InvalidConfig',
        `no S3 credentials found for ${this.location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or a workload identity) in the worker's environment`,
        details,
        { cause: error },
      );
    }
    if (
      ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'Forbidden', 'AllAccessDisabled'].includes(name) ||
      status === 403 ||
      status === 401
    ) {
      return new MewmError(
        'InvalidConfig',
        `S3 refused ${operation} (${reason}) at ${this.endpointForMessages}: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, and that they may s3:GetObject, s3:PutObject and s3:ListBucket on ${this.location}`,
        details,
        { cause: error },
      );
    }
    const transientErrno = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED'];
    const transientNames = [
      'TimeoutError',
      'RequestTimeout',
      'RequestTimeoutException',
      'SlowDown',
      'ServiceUnavailable',
      'InternalError',
      'ThrottlingException',
    ];
    if (transientErrno.includes(errno) || transientNames.includes(name) || (status !== undefined && status >= 500)) {
      return new MewmError(
        'ArtifactStoreUnavailable',
        `S3 store ${this.location} at ${this.endpointForMessages} could not be reached for ${operation}: ${reason}`,
        details,
        { cause: error },
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    return new MewmError('Internal', `unexpected S3 failure during ${operation} at ${this.endpointForMessages}: ${reason} ${message}`, details, {
      cause: error,
    });
  }
}
