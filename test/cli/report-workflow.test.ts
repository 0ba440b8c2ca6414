/**
 * `mewm report <workflowId>`: a tiny synthetic case planned through a real Temporal dev server
 * (LLM policy over a scripted loopback endpoint, so the plan records prompt versions), then the
 * report command run by workflow id with a config file pointing at that server, and the HTML
 * checked against the plan's own result and beam-step audits. Also the failures a user meets:
 * an unknown id, a plan still running, an unreachable server.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from '@temporalio/client';
import { ArtifactStores } from '../../src/artifacts';
import { getJson } from '../../src/artifacts/volumes';
import { runReport } from '../../src/cli/report';
import type { MewmConfig } from '../../src/config/config';
import { protocolLabel } from '../../src/core/vocabulary';
import { escapeHtml, SYNTHETIC_BANNER } from '../../src/evaluation/report-html';
import { freePort } from '../../workers/dev-server';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { BeamStepAudit, PlanResult } from '../../workflows/types';
import { fakeLlmPolicy, json, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai';
import { caseOf, stageCase, startTemporalStack, tempDir, testConfig, writeTestCohort, type TemporalStack } from '../support/temporal';

let dir: string;
let cohortDir: string;
let caseId: string;
let fake: FakeOpenAi;
let stack: TemporalStack;
let client: Client;
let config: MewmConfig;
/** What `mewm report --config` reads: the test server and the test artifact store. */
let configFile: string;
const stores = new ArtifactStores();

beforeAll(async () => {
  dir = tempDir('report-workflow');
  const cohort = await writeTestCohort(dir, 1, 17);
  cohortDir = cohort.dir;
  caseId = cohort.patients[0]!.caseId;
  fake = await startFakeOpenAi();
  config = testConfig(dir, cohortDir, { planning: { drugHorizon: 1, embolicHorizon: 1 } });
  stack = await startTemporalStack(dir, config, { policy: fakeLlmPolicy(fake) });
  client = stack.client;
  configFile = join(dir, 'mewm.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      dataDir: config.dataDir,
      temporal: { address: stack.server.address },
      artifacts: { location: config.artifacts.location },
      log: { level: 'warn' },
    }),
  );
});

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
  stores.close();
});

/** Runs `mewm report` and returns its exit code and what it wrote on stderr. */
async function report(argv: readonly string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await runReport(argv), stderr };
  } finally {
    spy.mockRestore();
  }
}

describe('mewm report <workflowId> on a real Temporal dev server', () => {
  it('reports a completed plan: chosen protocol, every candidate simulated, beam steps with risks, models, prompts, banner', async () => {
    fake.script(
      json({
        observation: 'single hypervascular lesion',
        drugs: ['Epirubicin', 'Cisplatin', 'Mitomycin'],
        embolics: ['Lipiodol', 'Gelatin sponge'],
        rationale: 'anthracycline or platinum, emulsified',
      }),
    );
    const plan = (await client.workflow.execute('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'plan-report-a',
      args: [{ case: await stageCase(config, caseOf(cohortDir, caseId)), settings: config.planning, requirements: stack.requirements }],
    })) as PlanResult;
    const promptVersions = plan.proposal.policy.promptVersions ?? {};
    expect(Object.keys(promptVersions)).toContain('propose');

    const out = join(dir, 'report-a.html');
    const { code, stderr } = await report(['plan-report-a', '--config', configFile, '--out', out]);
    expect(code, stderr).toBe(0);
    const html = readFileSync(out, 'utf8');

    expect(html).toContain(`id="synthetic-banner">${escapeHtml(SYNTHETIC_BANNER)}<`);
    expect(html).toContain(`<strong>Chosen protocol:</strong> ${escapeHtml(protocolLabel(plan.protocol))} · predicted risk ${plan.risk.toFixed(4)}`);
    expect(html).toContain(escapeHtml(plan.prepared.observation.summary));

    const audits = await Promise.all(plan.steps.map((s) => getJson<BeamStepAudit>(stores.storeFor(s.audit.uri), s.audit)));
    let candidates = 0;
    for (const [i, audit] of audits.entries()) {
      expect(html).toContain(`<h3>Step ${i + 1}: ${audit.phase} horizon, step ${audit.step}</h3>`);
      for (const beam of audit.beamsAfter)
        expect(html).toContain(`<td>${escapeHtml(protocolLabel(beam.protocol))}</td><td class="num">${beam.risk!.toFixed(4)}</td>`);
      for (const c of audit.candidates) {
        candidates++;
        expect(html).toContain(`<td class="num">${c.meanRisk.toFixed(4)}</td>`);
        // The simulated post-CT of the candidate's best replica, inlined as a PNG data URI.
        const best = [...c.replicas].sort((a, b) => a.risk - b.risk)[0]!;
        const caption = escapeHtml(`${protocolLabel(c.protocol)}: replica ${best.replica}, risk ${best.risk.toFixed(3)}`);
        expect(html).toMatch(new RegExp(`<img src="data:image/png;base64,[A-Za-z0-9+/=]{200,}" alt="${caption.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}">`));
      }
      for (const m of audit.models)
        expect(html).toContain(
          `<td>${m.role}</td><td>${m.backend}</td><td>${escapeHtml(m.name)}</td><td>${escapeHtml(m.version)}</td><td class="hash">${m.sha256}</td>`,
        );
    }
    expect(candidates).toBeGreaterThan(0);
    // Pre-CT key slices + the risk chart + one image per candidate.
    expect((html.match(/<img src="data:image\/png;base64,/g) ?? []).length).toBeGreaterThanOrEqual(candidates + 2);
    for (const [name, version] of Object.entries(promptVersions)) expect(html).toContain(`<tr><td>${name}</td><td>${escapeHtml(version)}</td></tr>`);
    expect(html).toContain('gpt-4o');
    // Paths stay out of the report: it names the case by its id only.
    expect(html).not.toContain(cohortDir);
  });

  it('an unknown workflow id is one InvalidInput line and exit code 2, no stack trace', async () => {
    const { code, stderr } = await report(['no-such-plan', '--config', configFile, '--out', join(dir, 'never.html')]);
    expect(code).toBe(2);
    expect(stderr).toBe('mewm: InvalidInput: no workflow no-such-plan: list plans with `mewm status`\n');
  });

  it('a plan that has not finished is refused at once instead of waited on', async () => {
    // No worker polls this queue: the plan stays RUNNING.
    const handle = await client.workflow.start('planTreatment', {
      taskQueue: 'mewm-report-test-idle',
      workflowId: 'plan-report-running',
      args: [{ case: await stageCase(config, caseOf(cohortDir, caseId)), settings: config.planning }],
    });
    try {
      const { code, stderr } = await report(['plan-report-running', '--config', configFile, '--out', join(dir, 'never.html')]);
      expect(code).toBe(2);
      expect(stderr).toMatch(/^mewm: InvalidInput: plan plan-report-running is RUNNING: wait for it/);
    } finally {
      await handle.terminate('test over');
    }
  });

  it('an unreachable Temporal is one TemporalUnavailable line and exit code 1, no stack trace', async () => {
    const unreachable = join(dir, 'unreachable.json');
    const address = `127.0.0.1:${await freePort()}`;
    writeFileSync(
      unreachable,
      JSON.stringify({ dataDir: config.dataDir, temporal: { address }, artifacts: { location: config.artifacts.location }, log: { level: 'silent' } }),
    );
    const { code, stderr } = await report(['plan-report-a', '--config', unreachable, '--out', join(dir, 'never.html')]);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(new RegExp(`^mewm: TemporalUnavailable: no Temporal server answers at ${address.replace(/\./g, '\\.')}`));
  });
});
