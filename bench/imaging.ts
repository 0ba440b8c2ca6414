/**
 * Imaging benchmark: read a 512x512x300 int16 CT (.nii.gz, 0.8 x 0.8 x 3 mm, stored LPS like a
 * converted DICOM), reorient to RAS, resample to 1 mm (trilinear) and window to [-1, 1].
 * Baseline, measured in the same run: reading the file and gunzipping it, nothing else.
 * Each measurement runs in a fresh child process so that its peak RSS is its own.
 *
 *   node --import tsx bench/imaging.ts [--repeats 3] [--shape 512x512x300]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { windowHu } from '../src/core/volume/intensity';
import { reorientToRas } from '../src/core/volume/orientation';
import { resampleToSpacing } from '../src/core/volume/resample';
import { makeVolume, type Shape3 } from '../src/core/volume/volume';
import { decodeNifti, writeNifti } from '../src/io/nifti';

interface Measurement {
  readonly stages: Record<string, number>;
  readonly totalMs: number;
  /** user + system CPU time of the process: far less sensitive than wall time to other load. */
  readonly cpuMs: number;
  readonly peakRssMb: number;
  readonly outputShape?: readonly number[];
}

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

/** A CT-like int16 volume: body ellipse of soft tissue with a liver-like blob, noise, air outside. */
function syntheticCt(shape: Shape3): Int16Array {
  const [nx, ny, nz] = shape;
  const data = new Int16Array(nx * ny * nz);
  let seed = 12345;
  const noise = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 16) / 65536 - 0.5;
  };
  let index = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, index++) {
        const bx = (x - nx / 2) / (nx * 0.42);
        const by = (y - ny / 2) / (ny * 0.32);
        const inBody = bx * bx + by * by < 1;
        const lx = (x - nx * 0.35) / (nx * 0.15);
        const ly = (y - ny * 0.45) / (ny * 0.13);
        const lz = (z - nz * 0.5) / (nz * 0.3);
        const inLiver = lx * lx + ly * ly + lz * lz < 1;
        const base = inLiver ? 60 : inBody ? 30 : -1000;
        data[index] = Math.round(base + noise() * 40);
      }
    }
  }
  return data;
}

function child(mode: 'baseline' | 'pipeline', file: string): Measurement {
  const stages: Record<string, number> = {};
  const cpuStart = process.cpuUsage();
  const cpuMs = () => {
    const used = process.cpuUsage(cpuStart);
    return (used.user + used.system) / 1000;
  };
  const start = performance.now();
  let mark = start;
  const stage = (name: string) => {
    const now = performance.now();
    stages[name] = now - mark;
    mark = now;
  };
  const bytes = readFileSync(file);
  stage('read file');
  if (mode === 'baseline') {
    const raw = gunzipSync(bytes);
    stage('gunzip');
    if (raw.length === 0) throw new Error('empty');
    return { stages, totalMs: performance.now() - start, cpuMs: cpuMs(), peakRssMb: process.resourceUsage().maxRSS / 1024 };
  }
  const volume = decodeNifti(bytes, { name: 'bench.nii.gz' });
  stage('gunzip + decode');
  const ras = reorientToRas(volume);
  stage('reorient to RAS');
  const resampled = resampleToSpacing(ras, 1, 'linear');
  stage('resample to 1 mm');
  const windowed = windowHu(resampled, -175, 600, { inPlace: true });
  stage('window [-175, 600]');
  return { stages, totalMs: performance.now() - start, cpuMs: cpuMs(), peakRssMb: process.resourceUsage().maxRSS / 1024, outputShape: windowed.shape };
}

function runChild(mode: 'baseline' | 'pipeline', file: string): Measurement {
  const self = fileURLToPath(import.meta.url);
  const result = spawnSync(process.execPath, [...process.execArgv, self, '--child', mode, '--file', file], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (result.status !== 0) throw new Error(`${mode} run failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Measurement;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const childMode = argument('child', '');
  if (childMode === 'baseline' || childMode === 'pipeline') {
    process.stdout.write(`${JSON.stringify(child(childMode, argument('file', '')))}\n`);
    return;
  }
  const repeats = Number(argument('repeats', '3'));
  const shape = argument('shape', '512x512x300').split('x').map(Number) as unknown as Shape3;
  const dir = mkdtempSync(join(tmpdir(), 'mewm-bench-imaging-'));
  try {
    const file = join(dir, 'ct.nii.gz');
    const affine = [-0.8, 0, 0, 204, 0, -0.8, 0, 204, 0, 0, 3, -450, 0, 0, 0, 1];
    await writeNifti(file, makeVolume(syntheticCt(shape), shape, affine));
    const sizeMb = statSync(file).size / 2 ** 20;
    const baseline: Measurement[] = [];
    const pipeline: Measurement[] = [];
    for (let r = 0; r < repeats; r++) {
      baseline.push(runChild('baseline', file));
      pipeline.push(runChild('pipeline', file));
    }
    const summary = (runs: Measurement[]) => ({
      wall: median(runs.map((m) => m.totalMs)),
      cpu: median(runs.map((m) => m.cpuMs)),
      rss: median(runs.map((m) => m.peakRssMb)),
    });
    const base = summary(baseline);
    const full = summary(pipeline);
    console.log(`# Imaging benchmark: ${shape.join('x')} int16 CT, 0.8 x 0.8 x 3 mm LPS, ${sizeMb.toFixed(1)} MiB .nii.gz → RAS, 1 mm, windowed`);
    console.log(
      `Node ${process.version}, ${repeats} runs each in fresh processes (interleaved), medians. Output grid ${pipeline[0]!.outputShape?.join('x')} float32.\n`,
    );
    console.log('| run | wall ms | CPU ms | peak RSS MiB | wall vs baseline | CPU vs baseline |');
    console.log('|---|---:|---:|---:|---:|---:|');
    console.log(`| baseline: read + gunzip | ${base.wall.toFixed(0)} | ${base.cpu.toFixed(0)} | ${base.rss.toFixed(0)} | 1.00 | 1.00 |`);
    console.log(
      `| read + decode + reorient + resample 1 mm + window | ${full.wall.toFixed(0)} | ${full.cpu.toFixed(0)} | ${full.rss.toFixed(0)} | ${(full.wall / base.wall).toFixed(2)} | ${(full.cpu / base.cpu).toFixed(2)} |`,
    );
    console.log('\n| pipeline stage | median ms |');
    console.log('|---|---:|');
    for (const name of Object.keys(pipeline[0]!.stages)) {
      console.log(`| ${name} | ${median(pipeline.map((m) => m.stages[name]!)).toFixed(0)} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
