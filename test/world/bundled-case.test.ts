import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSynth } from '../../src/cli/synth';

const bundled = join(import.meta.dirname, '..', '..', 'examples', 'demo-cohort');

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

describe('the bundled demo case (README quick start)', () => {
  let out = '';
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('is exactly what its documented command writes, so it tracks the current world', async () => {
    out = await mkdtemp(join(tmpdir(), 'mewm-bundled-'));
    expect(await runSynth(['--patients', '1', '--seed', '1', '--out', out, '--preview'])).toBe(0);
    const files = await filesUnder(bundled);
    expect(await filesUnder(out)).toEqual(files);
    for (const file of files) {
      const same = Buffer.compare(await readFile(join(bundled, file)), await readFile(join(out, file))) === 0;
      expect(same, `${file} differs: regenerate with bin/mewm synth --patients 1 --seed 1 --out examples/demo-cohort --preview`).toBe(true);
    }
  });
});
