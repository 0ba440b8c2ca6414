/**
 * One error type for mewm, with a code table that decides retryability where the error is born.
 * Activities turn a MewmError into a Temporal ApplicationFailure of the same `type` (the code);
 * workflows branch on that string, never on `instanceof`.
 * Messages must never contain patient identifiers: name case ids, roles and fields only, never input file names (docs/architecture.md, Privacy).
 */
export const ErrorCodes = {
  InvalidVolume: { retryable: false, description: 'an image file or volume is unreadable, malformed or physically absurd' },
  InvalidInput: { retryable: false, description: 'a request, case or cohort manifest is malformed' },
  InvalidConfig: { retryable: false, description: 'configuration is missing or inconsistent' },
  RuleViolation: { retryable: false, description: 'a protocol breaks a clinical rule of the vocabulary' },
  UnknownAction: { retryable: false, description: 'a drug or embolic name is not in the controlled vocabulary' },
  ModelMissing: { retryable: false, description: 'a model file or manifest is absent' },
  ModelTampered: { retryable: false, description: 'a model file does not match the sha256 in its manifest' },
  ModelContract: { retryable: false, description: 'a model manifest or its tensors do not match the model contract' },
  PolicyOutputInvalid: { retryable: false, description: 'the policy LLM kept answering outside the schema or vocabulary' },
  LlmUnavailable: { retryable: true, description: 'the LLM endpoint timed out, rate limited or failed' },
  ArtifactNotFound: { retryable: false, description: 'an artifact URI points at nothing' },
  ArtifactCorrupt: { retryable: false, description: 'an artifact does not match its content hash' },
  ArtifactStoreUnavailable: { retryable: true, description: 'the artifact store (filesystem or S3) could not be reached' },
  TemporalUnavailable: { retryable: true, description: 'the Temporal server could not be reached' },
  TemporalForeign: { retryable: false, description: 'what answers on the embedded server port is not the server mewm started for this data dir' },
  ServingMismatch: { retryable: false, description: 'a worker cannot serve the policy or world model a plan asked for (src/core/serving.ts)' },
  Internal: { retryable: true, description: 'an unexpected failure; retried in case it was transient' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class MewmError extends Error {
  override readonly name = 'MewmError';
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.retryable = ErrorCodes[code].retryable;
  }
}

export function isMewmError(error: unknown, code?: ErrorCode): error is MewmError {
  return error instanceof MewmError && (code === undefined || error.code === code);
}

/** Normalises anything thrown into a MewmError; unknown failures become retryable `Internal`. */
export function toMewmError(error: unknown): MewmError {
  if (error instanceof MewmError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new MewmError('Internal', message, {}, { cause: error });
}
