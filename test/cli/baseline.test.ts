import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidProtocol } from '../../src/core/vocabulary';
import { decodePng } from '../../src/io/png';
import { parseBaselineArguments, runBaseline } from '../../src/cli/baseline';
import { readPreTreatment, readSyntheticManifest } from '../../src/io/cohort-manifest';
import { renderKeySlices } from '../../src/io/key-slices';
import { writeCohort } from '../../src/world/cohort';
import { json, startFakeOpenAi, status, type FakeOpenAi } from '../support/fake-openai';

let dir: string;
let server: FakeOpenAi;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mewm-baseline-'));
  await writeCohort({ seed: 11, patients: 3, gridPreset: 'small', outDir: join(dir, 'cohort') });
  server = await startFakeOpenAi();
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

async function lines(file: string): Promise<Array<Record<string, any>>> {
  return (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('mewm baseline', () => {
  it('runs the guideline stand-in without an endpoint and writes one valid protocol per case', async () => {
    const out = join(dir, 'guideline.jsonl');
    const code = await runBaseline(['--cohort', join(dir, 'cohort'), '--out', out, '--split', 'all'], {});
    expect(code).toBe(0);
    const rows = await lines(out);
    expect(rows.map((r) => r.caseId)).toEqual(['SYN-11-0001', 'SYN-11-0002', 'SYN-11-0003']);
    for (const r of rows) {
      expect(r.baseline.name).toBe('guideline');
      expect(isValidProtocol(r.protocol)).toBe(true);
      expect(r.observation.tumourCount).toBeGreaterThan(0);
    }
  });

  it('asks the configured endpoint with key slices, maps the answer and records failures per case', async () => {
    const answer = { chemotherapy_drugs: ['THP', 'Lobaplatin', 'Cisplatin'], embolization_materials: ['Lipiodol', 'gelfoam'], rationale: 'cTACE' };
    server.script(json(answer), status(500), json({ ...answer, chemotherapy_drugs: ['Raltitrexed'] }));
    const out = join(dir, 'llm.jsonl');
    const env = { OPENAI_BASE_URL: server.baseURL, OPENAI_API_KEY: 'k', MEWM_POLICY_MODEL: 'fake-vlm', MEWM_POLICY_MAX_RETRIES: '0' };
    const code = await runBaseline(['--cohort', join(dir, 'cohort'), '--out', out, '--split', 'all', '--slices', '2'], env);
    expect(code).toBe(1);
    const rows = await lines(out);
    expect(rows[0]).toMatchObject({
      caseId: 'SYN-11-0001',
      protocol: { drugs: ['lobaplatin', 'pirarubicin'], embolics: ['lipiodol', 'gelatin-sponge'] },
      removals: [{ agent: 'cisplatin', rule: 'single-platinum', keptInstead: 'lobaplatin' }],
      baseline: { name: 'llm', models: ['fake-vlm'], promptVersions: { baseline: 'protocol-baseline.v1' } },
    });
    expect(rows[1]).toMatchObject({ caseId: 'SYN-11-0002', error: { code: 'LlmUnavailable' } });
    expect(rows[2]).toMatchObject({ caseId: 'SYN-11-0003', protocol: { drugs: ['raltitrexed'] } });
    const user = server.requests[0]!.messages[1]!.content as Array<{ type: string }>;
    expect(user.filter((p) => p.type === 'image_url')).toHaveLength(2);
    const system = String(server.requests[0]!.messages[0]!.content);
    expect(system).toContain('chemotherapy_drugs');
    expect(system).toContain('Raltitrexed, Cisplatin');
  });

  it('stops at a configuration error (HTTP 401) with exit code 2', async () => {
    server.script(status(401));
    const out = join(dir, 'unauthorised.jsonl');
    const code = await runBaseline(['--cohort', join(dir, 'cohort'), '--out', out, '--split', 'all'], {
      OPENAI_BASE_URL: server.baseURL,
      OPENAI_API_KEY: 'bad',
    });
    expect(code).toBe(2);
    expect(await lines(out)).toHaveLength(1);
  });

  it('rejects bad arguments and a missing manifest with exit code 2', async () => {
    expect(await runBaseline(['--cohort', join(dir, 'cohort')], {})).toBe(2);
    expect(await runBaseline(['--cohort', join(dir, 'nowhere'), '--out', join(dir, 'x.jsonl')], {})).toBe(2);
    expect(() => parseBaselineArguments(['--cohort', 'c', '--out', 'o', '--split', 'dev'])).toThrow(/--split/);
    expect(() => parseBaselineArguments(['--cohort', 'c', '--out', 'o', '--slices', '99'])).toThrow(/--slices/);
  });

  it('renders key slices through the tumour as PNGs of the axial plane', async () => {
    const [row] = await readSyntheticManifest(join(dir, 'cohort'));
    const roi = await readPreTreatment(join(dir, 'cohort'), row!);
    const pngs = renderKeySlices(roi, 3);
    expect(pngs).toHaveLength(3);
    const image = decodePng(pngs[0]!);
    expect([image.width, image.height]).toEqual([roi.ct.shape[0], roi.ct.shape[1]]);
    // The tumour outline (green) is drawn on every key slice.
    for (const png of pngs) {
      const { rgba } = decodePng(png);
      let green = 0;
      for (let p = 0; p < rgba.length; p += 4) if (rgba[p + 1]! > 200 && rgba[p]! < 80) green++;
      expect(green).toBeGreaterThan(0);
    }
  });
});

describe('mewm extract', () => {
  it('extracts every report of the cohort with the rules offline', async () => {
    const { runExtract } = await import('../../src/cli/extract');
    const out = join(dir, 'extract.jsonl');
    expect(await runExtract(['--cohort', join(dir, 'cohort'), '--out', out], {})).toBe(0);
    const rows = await lines(out);
    const truth = (await readFile(join(dir, 'cohort', 'truth.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const manifest = (await readFile(join(dir, 'cohort', 'manifest.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(3);
    rows.forEach((row, i) => {
      expect(row.flagged).toBe(false);
      expect(row.rules.attenuationLevel).toBe(truth[i].attenuationLevel);
      const agents = [...row.rules.drugs, ...row.rules.embolics].map((a: { agent: string }) => a.agent).sort();
      expect(agents).toEqual([...manifest[i].protocol.drugs, ...manifest[i].protocol.embolics].sort());
    });
  });
});
