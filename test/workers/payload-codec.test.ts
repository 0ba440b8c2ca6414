/**
 * Optional payload encryption (issue 11): with MEWM_PAYLOAD_KEY set, every payload a plan writes
 * into the Temporal history is AES-GCM ciphertext (no protocol, drug, risk or artifact ref readable
 * in the raw history), a client with the key reads the plan, a wrong key or a tampered payload is
 * a clear InvalidConfig, and plain payloads (old histories) pass through. Keys here are fake.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import type { MewmConfig } from '../../src/config/config';
import { resolveConfig } from '../../src/config/config';
import { isMewmError } from '../../src/core/errors';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { PlanResult } from '../../workflows/types';
import { AesGcmPayloadCodec, dataConverterOption } from '../../workers/payload-codec';
import { caseOf, stageCase, startTemporalStack, tempDir, testConfig, writeTestCohort, type TemporalStack } from '../support/temporal';

const fakeKey = () => randomBytes(32);
const enc = new TextEncoder();
const plain = (json: unknown): Payload => ({ metadata: { encoding: enc.encode('json/plain') }, data: enc.encode(JSON.stringify(json)) });

describe('AesGcmPayloadCodec', () => {
  it('round-trips payloads and hides their bytes', async () => {
    const codec = new AesGcmPayloadCodec(fakeKey());
    const payload = plain({ protocol: ['cisplatin', 'lipiodol'], risk: 0.42 });
    const [sealed] = await codec.encode([payload]);
    expect(new TextDecoder().decode(sealed!.metadata!.encoding!)).toBe('binary/encrypted');
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toContain('cisplatin');
    const [opened] = await codec.decode([sealed!]);
    expect(new TextDecoder().decode(opened!.data!)).toBe(JSON.stringify({ protocol: ['cisplatin', 'lipiodol'], risk: 0.42 }));
    expect(new TextDecoder().decode(opened!.metadata!.encoding!)).toBe('json/plain');
  });

  it('passes plain payloads through (histories from before encryption still replay)', async () => {
    const payload = plain({ a: 1 });
    expect(await new AesGcmPayloadCodec(fakeKey()).decode([payload])).toEqual([payload]);
  });

  it('a wrong key or a tampered payload is InvalidConfig naming key ids, never keys', async () => {
    const key = fakeKey();
    const [sealed] = await new AesGcmPayloadCodec(key).encode([plain({ a: 1 })]);
    const wrong = await new AesGcmPayloadCodec(fakeKey()).decode([sealed!]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMewmError(wrong, 'InvalidConfig')).toBe(true);
    expect((wrong as Error).message).toMatch(/encrypted with key [0-9a-f]{16}, but MEWM_PAYLOAD_KEY is key [0-9a-f]{16}/);
    expect((wrong as Error).message).not.toContain(key.toString('base64'));
    const tampered = { ...sealed!, data: Uint8Array.from(sealed!.data!, (b, i) => (i === 40 ? b ^ 1 : b)) };
    const bad = await new AesGcmPayloadCodec(key).decode([tampered]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMewmError(bad, 'InvalidConfig')).toBe(true);
    expect((bad as Error).message).toContain('fails authentication');
  });

  it('the config refuses a malformed key without echoing it', () => {
    const error = (() => {
      try {
        resolveConfig({ cwd: '/tmp', env: { MEWM_PAYLOAD_KEY: 'not-a-key-SECRETVALUE' } });
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(isMewmError(error, 'InvalidConfig')).toBe(true);
    expect((error as Error).message).not.toContain('SECRETVALUE');
  });
});

describe('a plan with payload encryption on', () => {
  let stack: TemporalStack;
  let config: MewmConfig;
  let cohortDir: string;
  let caseId: string;

  beforeAll(async () => {
    const dir = tempDir('payload-codec');
    const cohort = await writeTestCohort(dir, 1, 41);
    cohortDir = cohort.dir;
    caseId = cohort.patients[0]!.caseId;
    const base = testConfig(dir, cohortDir, { planning: { drugHorizon: 1, embolicHorizon: 1, previews: false } });
    config = { ...base, temporal: { ...base.temporal, payloadKey: fakeKey().toString('base64') } };
    stack = await startTemporalStack(dir, config);
  }, 300_000);
  afterAll(async () => stack?.stop());

  it('stores only ciphertext payloads in the history; a client with the key reads the plan', async () => {
    const client = new Client({ connection: stack.client.connection, namespace: 'default', ...dataConverterOption(config.temporal.payloadKey) });
    const result = (await client.workflow.execute('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'plan-encrypted',
      args: [{ case: await stageCase(config, caseOf(cohortDir, caseId)), settings: config.planning, requirements: stack.requirements }],
    })) as PlanResult;
    expect(result.protocol.drugs.length + result.protocol.embolics.length).toBeGreaterThan(0);

    const raw = await stack.client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: 'plan-encrypted' } });
    const payloads: Array<{ metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }> = [];
    const indexed: string[] = [];
    const walk = (node: unknown, depth: number, key: string): void => {
      if (depth > 40 || typeof node !== 'object' || node === null || node instanceof Uint8Array) return;
      const record = node as Record<string, unknown>;
      if (record.data instanceof Uint8Array && typeof record.metadata === 'object' && record.metadata !== null && 'encoding' in (record.metadata as object))
        payloads.push(record as never);
      // Search attributes are indexed by the server, never encoded: they hold case ids and statuses by design.
      for (const [k, value] of Object.entries(record)) {
        if (k === 'searchAttributes') indexed.push(JSON.stringify(Object.keys((value as { indexedFields?: object })?.indexedFields ?? {})));
        else walk(value, depth + 1, k);
      }
    };
    walk(raw.history, 0, '');
    expect(payloads.length).toBeGreaterThanOrEqual(8); // input, activity inputs and results, the plan result (children keep their own histories)
    const encodings = new Set(payloads.map((p) => new TextDecoder().decode(p.metadata!.encoding!)));
    expect([...encodings]).toEqual(['binary/encrypted']);
    const allBytes = payloads.map((p) => Buffer.from(p.data!).toString('latin1')).join('\n');
    for (const readable of [result.protocol.drugs[0] ?? result.protocol.embolics[0]!, '"risk"', 'sha256', 'file://', '"protocol"'])
      expect(allBytes).not.toContain(readable);
  }, 300_000);
});
