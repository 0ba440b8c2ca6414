/**
 * Optional encryption of every Temporal payload (workflow and activity inputs and results,
 * heartbeat details, failure details, memos) with AES-256-GCM, so the event history — kept by
 * the Temporal server, possibly for a long time — holds no readable clinical data (protocols,
 * risks, tumour observations, artifact refs). On when `MEWM_PAYLOAD_KEY` (config
 * `temporal.payloadKey`) holds a base64 32-byte key; every client and worker of a namespace needs
 * the same key.
 *
 * Wire format of an encrypted payload: metadata `encoding: binary/encrypted`,
 * `encryption-key-id: <first 16 hex of sha256(key)>`; data = 12-byte IV ‖ 16-byte GCM tag ‖
 * ciphertext of the original payload (as JSON: metadata and data in base64). Payloads without that encoding (histories written
 * before encryption was turned on) pass through undecoded, so old histories still replay.
 * Not encrypted (Temporal indexes or shows them): workflow ids, search attributes, activity
 * types, failure messages — all of which the privacy rules keep to pseudonymous case ids and
 * problem descriptions (docs/architecture.md).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { MewmError } from '../src/core/errors';

const ENCODING = 'binary/encrypted';
const utf8 = new TextEncoder();
const text = new TextDecoder();

/** Parses a base64 key as configured; errors never echo the key. */
export function parsePayloadKey(base64: string, variable = 'MEWM_PAYLOAD_KEY'): Uint8Array {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== 32) {
    throw new MewmError('InvalidConfig', `${variable} must be 32 random bytes in base64 (e.g. \`openssl rand -base64 32\`), got ${key.length} bytes`, {
      variable,
    });
  }
  return new Uint8Array(key);
}

export function payloadKeyId(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export class AesGcmPayloadCodec implements PayloadCodec {
  readonly keyId: string;

  constructor(private readonly key: Uint8Array) {
    if (key.length !== 32) throw new MewmError('InvalidConfig', 'the payload key must be 32 bytes');
    this.keyId = payloadKeyId(key);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      const plain = serialise(payload);
      const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
      return {
        metadata: { encoding: utf8.encode(ENCODING), 'encryption-key-id': utf8.encode(this.keyId) },
        data: new Uint8Array(Buffer.concat([iv, cipher.getAuthTag(), sealed])),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.encoding;
      if (encoding === undefined || encoding === null || text.decode(encoding) !== ENCODING) return payload;
      const keyId = payload.metadata?.['encryption-key-id'];
      const id = keyId ? text.decode(keyId) : '(none)';
      if (id !== this.keyId) {
        throw new MewmError(
          'InvalidConfig',
          `a Temporal payload is encrypted with key ${id}, but MEWM_PAYLOAD_KEY is key ${this.keyId}: every client and worker of a namespace needs the same key`,
          { keyId: id },
        );
      }
      const data = payload.data ?? new Uint8Array(0);
      const decipher = createDecipheriv('aes-256-gcm', this.key, data.subarray(0, 12));
      decipher.setAuthTag(data.subarray(12, 28));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]);
      } catch {
        throw new MewmError('InvalidConfig', `a Temporal payload encrypted with key ${id} fails authentication (tampered or truncated)`, { keyId: id });
      }
      return deserialise(plain);
    });
  }
}

function serialise(payload: Payload): Uint8Array {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) if (value) metadata[key] = Buffer.from(value).toString('base64');
  return utf8.encode(JSON.stringify({ metadata, data: Buffer.from(payload.data ?? new Uint8Array(0)).toString('base64') }));
}

function deserialise(bytes: Uint8Array): Payload {
  const parsed = JSON.parse(text.decode(bytes)) as { metadata: Record<string, string>; data: string };
  const metadata: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(parsed.metadata)) metadata[key] = new Uint8Array(Buffer.from(value, 'base64'));
  return { metadata, data: new Uint8Array(Buffer.from(parsed.data, 'base64')) };
}

/** The data converter for a configured key (null/undefined: none, Temporal's default plain JSON). */
export function dataConverterFor(payloadKey: string | null | undefined): DataConverter | undefined {
  if (payloadKey === null || payloadKey === undefined || payloadKey === '') return undefined;
  return { payloadCodecs: [new AesGcmPayloadCodec(parsePayloadKey(payloadKey))] };
}

/** `{ dataConverter }` for a client's or worker's options, or `{}` without a key. */
export function dataConverterOption(payloadKey: string | null | undefined): { dataConverter?: DataConverter } {
  const dataConverter = dataConverterFor(payloadKey);
  return dataConverter ? { dataConverter } : {};
}
