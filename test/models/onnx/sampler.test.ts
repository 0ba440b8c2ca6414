import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isMewmError } from '../../../src/core/errors';
import { Rng } from '../../../src/core/random';
import {
  ddimStep,
  ddpmStep,
  dpmSolverPlusPlus2MStep,
  dpmSolverSigmas,
  leadingTimesteps,
  linspaceTimesteps,
  makeNoiseSchedule,
  sample,
  type SamplerMethod,
  type ScheduleConfig,
} from '../../../src/models/onnx/sampler';

const python = '.venv/bin/python';

interface OracleOutput {
  alphasCumprod: number[];
  timesteps: number[];
  trajectory: number[][];
}

function oracle(input: unknown): OracleOutput {
  const out = execFileSync(python, ['test/oracles/sampler_reference.py'], { input: JSON.stringify(input), maxBuffer: 64 << 20 });
  return JSON.parse(out.toString('utf8')) as OracleOutput;
}

function normals(seed: number, n: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

const epsScale = 0.3;
const epsShift = 0.05;

/** Replays the chain with the step functions under test and the oracle's closed-form model. */
function replay(schedule: ScheduleConfig, method: SamplerMethod, steps: number, eta: number, x0: Float32Array, noises: Float32Array[]): Float32Array[] {
  const s = makeNoiseSchedule(schedule);
  const T = schedule.numTrainTimesteps;
  const model = (x: Float32Array, t: number) => x.map((v) => epsScale * v + (epsShift * t) / T);
  const out: Float32Array[] = [];
  let x = x0;
  if (method === 'dpm-solver++') {
    const ts = linspaceTimesteps(s, steps);
    const sigmas = dpmSolverSigmas(s, ts);
    let previousX0: Float32Array | undefined;
    ts.forEach((t, i) => {
      const r = dpmSolverPlusPlus2MStep({ sigmas, stepIndex: i, sample: x, eps: model(x, t), ...(previousX0 ? { previousX0 } : {}) });
      x = r.sample;
      previousX0 = r.x0;
      out.push(x);
    });
    return out;
  }
  const ts = leadingTimesteps(s, steps);
  const ratio = Math.floor(T / steps);
  ts.forEach((t, i) => {
    const eps = model(x, t);
    x =
      method === 'ddpm'
        ? ddpmStep({ schedule: s, t, prevT: t - ratio, sample: x, eps, noise: noises[i]! })
        : ddimStep({ schedule: s, t, prevT: t - ratio, sample: x, eps, eta, noise: noises[i]! });
    out.push(x);
  });
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const schedules: ScheduleConfig[] = [
  { numTrainTimesteps: 1000, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 },
  { numTrainTimesteps: 1000, betaSchedule: 'scaled_linear', betaStart: 0.0015, betaEnd: 0.0195 },
  { numTrainTimesteps: 200, betaSchedule: 'squaredcos_cap_v2', betaStart: 1e-4, betaEnd: 0.02 },
];

describe('noise schedules', () => {
  it.each(schedules)('ᾱ_t matches the diffusers formulas for $betaSchedule', (schedule) => {
    const ref = oracle({ schedule, method: 'ddim', steps: 2, eta: 0, x: [0], noises: [[0], [0]], epsScale, epsShift });
    const mine = makeNoiseSchedule(schedule).alphasCumprod;
    expect(mine.length).toBe(ref.alphasCumprod.length);
    expect(maxAbsDiff(mine, ref.alphasCumprod)).toBeLessThan(1e-12);
  });

  it('plans diffusers timesteps: leading for DDPM/DDIM, linspace for DPM-Solver', () => {
    const s = makeNoiseSchedule(schedules[0]!);
    expect(leadingTimesteps(s, 10)).toEqual([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    expect(linspaceTimesteps(s, 4)).toEqual([999, 749, 500, 250]);
    expect(() => leadingTimesteps(s, 0)).toThrow(/steps/);
  });
});

describe('step functions vs the numpy transcription of diffusers', () => {
  const cases: Array<[SamplerMethod, number, number]> = [
    ['ddpm', 20, 0],
    ['ddpm', 1000, 0],
    ['ddim', 10, 0],
    ['ddim', 25, 0.7],
    ['dpm-solver++', 10, 0],
    ['dpm-solver++', 20, 0],
  ];
  for (const schedule of schedules) {
    it.each(cases.filter(([, steps]) => steps <= schedule.numTrainTimesteps))(`%s with %i steps (eta %f), ${schedule.betaSchedule}, T=${schedule.numTrainTimesteps}`, (method, steps, eta) => {
      const size = 64;
      const x = normals(11, size);
      const noises = Array.from({ length: steps }, (_, i) => normals(1000 + i, size));
      const ref = oracle({ schedule, method, steps, eta, x: [...x], noises: noises.map((n) => [...n]), epsScale, epsShift });
      const mine = replay(schedule, method, steps, eta, x, noises);
      expect(mine.length).toBe(ref.trajectory.length);
      let worst = 0;
      mine.forEach((m, i) => {
        const scale = Math.max(1, ...ref.trajectory[i]!.map(Math.abs));
        worst = Math.max(worst, maxAbsDiff(m, ref.trajectory[i]!) / scale);
      });
      // float32 storage between steps vs float64 reference: relative error stays at float32 rounding.
      expect(worst).toBeLessThan(2e-5);
    });
  }
});

describe('sample() runner', () => {
  const schedule = makeNoiseSchedule({ numTrainTimesteps: 100, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 });
  const predictNoise = async (x: Float32Array) => x.map((v) => 0.5 * v);

  it.each<SamplerMethod>(['ddpm', 'ddim', 'dpm-solver++'])('%s: one model call per step, deterministic per seed, independent of batch mates', async (method) => {
    let calls = 0;
    const counted = async (x: Float32Array, t: number) => {
      calls++;
      expect(x.length).toBe(3 * 16);
      expect(t).toBeGreaterThanOrEqual(0);
      return predictNoise(x);
    };
    const a = await sample({ predictNoise: counted, schedule, sampleSize: 16, steps: 10, method, seeds: [1, 2, 3] });
    expect(calls).toBe(10);
    const b = await sample({ predictNoise, schedule, sampleSize: 16, steps: 10, method, seeds: [7, 2] });
    expect(a.subarray(16, 32)).toEqual(b.subarray(16, 32));
    expect(maxAbsDiff(a.subarray(0, 16), a.subarray(32, 48))).toBeGreaterThan(1e-3);
    expect(a.every(Number.isFinite)).toBe(true);
  });

  it('rejects a denoiser that returns the wrong size', async () => {
    const bad = async (x: Float32Array) => new Float32Array(x.length - 1);
    await expect(sample({ predictNoise: bad, schedule, sampleSize: 4, steps: 2, method: 'ddim', seeds: [1] })).rejects.toSatisfy((e: unknown) =>
      isMewmError(e, 'ModelContract'),
    );
  });
});
