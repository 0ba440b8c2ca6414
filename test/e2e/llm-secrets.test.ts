/**
 * Keys never reach logs, audits or the Temporal history (issue 14 item 5, issue 11 item 4).
 * A scripted endpoint answers every request with HTTP 401 whose body echoes the (fake) key, as
 * some proxies do. `mewm plan` (through Temporal, debug logging), `mewm baseline` and
 * `mewm extract` run against it as a user would; then stderr, stdout, every file they wrote,
 * every file under the data folder and the whole history of every workflow (the embedded
 * server's database, opened again afterwards) are searched for the key and a fragment of it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import type { DevServer } from '../../workers/dev-server';
import { cliTestEnv, type CliResult } from '../support/cli';
import { runMewmAsync } from '../support/cli-async';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai';
import { connectClient, startTestServer, tempDir } from '../support/temporal';

const FAKE_KEY = 'sk-mewm-FAKE-7f3a9c1e5b2d8f4a6c0e9b7d5f3a1c8e';
const FRAGMENT = '7f3a9c1e5b2d';

let dir: string;
let env: Record<string, string>;
let fake: FakeOpenAi;
let server: DevServer;
let client: Client;

// Async: this process serves the scripted endpoint the CLI calls.
const run = (args: string[]): Promise<CliResult> => runMewmAsync(dir, env, args, 540_000);

function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (st.isFile() && st.size < 64 * 1024 * 1024) out.push(path);
    }
  };
  walk(root);
  return out;
}

function expectNoKey(where: string, text: string): void {
  expect(text.includes(FAKE_KEY), `${where} holds the key`).toBe(false);
  expect(text.includes(FRAGMENT), `${where} holds a fragment of the key`).toBe(false);
}

beforeAll(async () => {
  dir = tempDir('llm-secrets');
  fake = await startFakeOpenAi();
  fake.fallback = { kind: 'status', status: 401, message: `Incorrect API key provided: ${FAKE_KEY}. Authorization: Bearer ${FAKE_KEY}` };
  env = await cliTestEnv(dir, {
    OPENAI_BASE_URL: fake.baseURL,
    OPENAI_API_KEY: FAKE_KEY,
    MEWM_POLICY: 'llm',
    MEWM_WORLD_MODEL: 'oracle',
    MEWM_LOG_LEVEL: 'debug',
  });
  expect((await run(['synth', '--patients', '2', '--seed', '11', '--out', 'demo', '--size', 'small'])).code).toBe(0);
}, 180_000);

afterAll(async () => {
  await client?.connection.close();
  await server?.stop();
  await fake?.close();
});

describe('a 401 that echoes the key', () => {
  it('mewm plan fails clearly and the key is in no log line, output file, artifact or workflow history', { timeout: 600_000 }, async () => {
    const plan = await run(['plan', join('demo', 'cases', 'SYN-11-0001'), '--workflow-id', 'plan-secret', '--out', 'plan-out']);
    expect(plan.code).not.toBe(0);
    expect(fake.requests.length, plan.stderr.slice(-3_000)).toBeGreaterThan(0); // the endpoint was really asked
    expect(fake.requests.every((r) => !JSON.stringify(r).includes(FAKE_KEY))).toBe(true); // the key travels in a header only
    expectNoKey('plan stderr', plan.stderr);
    expectNoKey('plan stdout', plan.stdout);
    for (const file of filesUnder(dir).filter((f) => !f.includes('temporal.sqlite'))) expectNoKey(file, readFileSync(file, 'latin1'));

    // The embedded server's state, opened again: every workflow's history.
    server = await startTestServer(join(dir, 'data', 'temporal', 'temporal.sqlite'));
    client = await connectClient(server.address);
    let workflows = 0;
    for await (const execution of client.workflow.list()) {
      workflows++;
      const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      const text = JSON.stringify(history);
      expectNoKey(`history of ${execution.workflowId}`, text);
      if (execution.workflowId === 'plan-secret') expect(text).toContain('HTTP 401');
    }
    expect(workflows).toBeGreaterThan(0);
  });

  it('mewm baseline and mewm extract stop on the configuration error without the key', { timeout: 300_000 }, async () => {
    const baseline = await run(['baseline', '--cohort', 'demo', '--split', 'all', '--out', 'baseline.jsonl']);
    expect(baseline.code).toBe(2);
    expect(baseline.stderr).toMatch(/InvalidConfig: LLM endpoint answered HTTP 401 .*check OPENAI_API_KEY/);
    const extract = await run(['extract', '--cohort', 'demo', '--out', 'extract.jsonl']);
    expect(extract.code).toBe(2);
    expect(extract.stderr).toMatch(/InvalidConfig: LLM endpoint answered HTTP 401/);
    for (const [name, result] of [
      ['baseline', baseline],
      ['extract', extract],
    ] as const) {
      expectNoKey(`${name} stderr`, result.stderr);
      expectNoKey(`${name} stdout`, result.stdout);
    }
    expectNoKey('baseline.jsonl', readFileSync(join(dir, 'baseline.jsonl'), 'utf8'));
  });
});
