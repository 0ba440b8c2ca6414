import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Label } from '../../src/core/volume/volume';
import { isValidProtocol } from '../../src/core/vocabulary';
import { readNifti } from '../../src/io/nifti';
import { decodePng } from '../../src/io/png';
import { runSynth } from '../../src/cli/synth';
import { attenuationLevelOf } from '../../src/world/reports';

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else out.push(path);
  }
  return out.sort();
}

async function digest(dir: string): Promise<Map<string, string>> {
  const files = await listFiles(dir);
  const entries = await Promise.all(
    files.map(
      async (f) =>
        [
          relative(dir, f),
          createHash('sha256')
            .update(await readFile(f))
            .digest('hex'),
        ] as const,
    ),
  );
  return new Map(entries);
}

describe('mewm synth (small grid)', () => {
  let root: string;
  const quiet = async (argv: string[]) => {
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      return await runSynth(argv);
    } finally {
      process.stderr.write = write;
    }
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mewm-synth-'));
    for (const [name, seed] of [
      ['a', 42],
      ['b', 42],
      ['c', 43],
    ] as const) {
      expect(await quiet(['--patients', '3', '--seed', String(seed), '--size', 'small', '--preview', '--out', join(root, name)])).toBe(0);
    }
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('the same seed gives byte-identical files; another seed gives different ones', async () => {
    const a = await digest(join(root, 'a'));
    const b = await digest(join(root, 'b'));
    const c = await digest(join(root, 'c'));
    expect(a.size).toBe(3 + 1 + 3 * 5 + 3 + 0); // manifest.jsonl, manifest.csv, truth.jsonl, world.json, 5 per case, 3 previews
    expect([...a.entries()]).toEqual([...b.entries()]);
    expect(a.get('cases/SYN-42-0001/pre-ct.nii.gz')).not.toBe(c.get('cases/SYN-43-0001/pre-ct.nii.gz'));
    expect(a.get('world.json')).not.toBe(c.get('world.json'));
  });

  it('writes the documented layout with what a model may see apart from the truth', async () => {
    const dir = join(root, 'a');
    const world = JSON.parse(await readFile(join(dir, 'world.json'), 'utf8'));
    expect(world).toMatchObject({ generator: 'mewm-synthetic-tace-world', seed: 42, patients: 3, grid: { preset: 'small' } });
    const rows = (await readFile(join(dir, 'manifest.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const truth = (await readFile(join(dir, 'truth.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const csv = (await readFile(join(dir, 'manifest.csv'), 'utf8')).trim().split('\n');
    expect(rows.map((r) => r.caseId)).toEqual(['SYN-42-0001', 'SYN-42-0002', 'SYN-42-0003']);
    expect(truth.map((t) => t.caseId)).toEqual(rows.map((r) => r.caseId));
    expect(csv[0]).toBe('caseId,split,chemotherapy,protocolKey,osMonths,event,preCt,preLabels,postCt,postLabels,report');
    expect(csv).toHaveLength(4);
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(['caseId', 'event', 'osMonths', 'postCt', 'postLabels', 'preCt', 'preLabels', 'protocol', 'report', 'split']);
      expect(['train', 'val', 'test']).toContain(row.split);
      expect(isValidProtocol(row.protocol)).toBe(true);
      expect(row.osMonths).toBeGreaterThan(0);
      expect([0, 1]).toContain(row.event);
      const report = await readFile(join(dir, row.report), 'utf8');
      const t = truth.find((x) => x.caseId === row.caseId);
      expect(attenuationLevelOf(report)).toBe(t.attenuationLevel);
      expect(t.phenotype.biology.sensitivity).toBeDefined();
      expect(isValidProtocol(t.goldProtocol)).toBe(true);
      expect(t.goldExpectedRisk).toBeLessThanOrEqual(t.physicianExpectedRisk);
      const preCt = await readNifti(join(dir, row.preCt));
      const preLabels = await readNifti(join(dir, row.preLabels));
      const postLabels = await readNifti(join(dir, row.postLabels));
      expect(preCt.data).toBeInstanceOf(Int16Array);
      expect(preLabels.data).toBeInstanceOf(Uint8Array);
      expect(preCt.shape).toEqual([96, 96, 32]);
      expect(preLabels.affine).toEqual(preCt.affine);
      const tumour = (v: ArrayLike<number>) => Array.prototype.filter.call(v, (x: number) => x === Label.tumour).length;
      expect(tumour(postLabels.data)).toBeLessThanOrEqual(tumour(preLabels.data));
      expect(tumour(postLabels.data)).toBeGreaterThan(0);
      const png = decodePng(await readFile(join(dir, 'previews', `${row.caseId}.png`)));
      expect(png.width).toBeGreaterThan(4 * 96);
    }
    // nothing a model must not see leaks into the manifest
    const manifestText = await readFile(join(dir, 'manifest.jsonl'), 'utf8');
    expect(manifestText).not.toMatch(/sensitivity|liverReserve|goldProtocol|phenotype/);
    expect((await stat(join(dir, 'truth.jsonl'))).size).toBeGreaterThan(1000);
  });

  it('answers bad arguments with one clear line and exit code 2', async () => {
    const messages: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (messages.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await runSynth(['--patients', 'many', '--out', join(root, 'x')])).toBe(2);
      expect(await runSynth(['--patients', '2'])).toBe(2);
      expect(await runSynth(['--size', 'huge', '--out', join(root, 'x')])).toBe(2);
      expect(await runSynth(['--bogus'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(messages.join('')).toMatch(/--patients needs an integer/);
    expect(messages.join('')).toMatch(/--out DIR is required/);
    expect(messages.join('')).toMatch(/--size must be clinical or small/);
    expect(messages.join('')).toMatch(/unknown argument "--bogus"/);
  });

  it('prints the world statistics as Markdown', async () => {
    const chunks: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (chunks.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      expect(await runSynth(['--stats', '--patients', '12', '--seed', '3'])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const text = chunks.join('');
    expect(text).toMatch(/\| distinct gold protocols \| \d+ of 12 patients \|/);
    expect(text).toMatch(/risk: worst − best valid protocol/);
  });
});
