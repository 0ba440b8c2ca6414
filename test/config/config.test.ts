import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MODEL_DIR, DEFAULT_PLAN_SETTINGS, loadConfig, resolveConfig } from '../../src/config';
import { isMewmError } from '../../src/core/errors';

describe('resolveConfig', () => {
  it('fills defaults: embedded server, the bundled demo ONNX models, the paper behaviour, data under ./.data', () => {
    const config = resolveConfig({ cwd: '/work/x', env: {} });
    expect(config.temporal.address).toBeNull();
    expect(config.worldModel.backend).toBe('onnx');
    expect(config.worldModel.modelDir).toBe(BUNDLED_MODEL_DIR);
    for (const role of ['dynamics', 'assistant', 'heuristic']) expect(existsSync(join(BUNDLED_MODEL_DIR, role, 'manifest.json')), role).toBe(true);
    expect(config.planning).toEqual(DEFAULT_PLAN_SETTINGS);
    expect(config.planning.appendLipiodolAfterDrugs).toBe(false);
    expect(config.planning.requireImprovement).toBe(false);
    expect(config.dataDir).toBe('/work/x/.data');
    expect(config.artifacts.location).toBe('/work/x/.data/artifacts');
  });

  it('reads the ONNX runtime options; sampler steps default per method', () => {
    const config = resolveConfig({
      cwd: '/w',
      env: { MEWM_EXECUTION_PROVIDER: 'cuda', MEWM_SAMPLER: 'ddpm', MEWM_MAX_BATCH: '8', MEWM_INTRA_OP_THREADS: '2' },
    });
    expect(config.worldModel).toMatchObject({ executionProvider: 'cuda', sampler: { method: 'ddpm', steps: 1000 }, maxBatch: 8, intraOpThreads: 2 });
    expect(resolveConfig({ cwd: '/w', env: { MEWM_SAMPLER: 'ddim', MEWM_SAMPLER_STEPS: '50' } }).worldModel.sampler).toEqual({ method: 'ddim', steps: 50 });
    expect(resolveConfig({ cwd: '/w', env: {} }).worldModel).toMatchObject({ executionProvider: 'cpu', sampler: null, maxBatch: null, intraOpThreads: null });
  });

  it('focused segmentation: off by default, MEWM_SEGMENT_FOCUS_MM sets the margin or turns it off, nonsense is refused by name', () => {
    expect(resolveConfig({ cwd: '/w', env: {} }).planning.segmentationFocusMarginMm).toBeNull();
    expect(resolveConfig({ cwd: '/w', env: { MEWM_SEGMENT_FOCUS_MM: '20' } }).planning.segmentationFocusMarginMm).toBe(20);
    expect(resolveConfig({ cwd: '/w', env: { MEWM_SEGMENT_FOCUS_MM: 'off' } }).planning.segmentationFocusMarginMm).toBeNull();
    expect(() => resolveConfig({ cwd: '/w', env: { MEWM_SEGMENT_FOCUS_MM: '-3' } })).toThrow(/MEWM_SEGMENT_FOCUS_MM/);
  });

  it('MEWM_PRESET=paper gives the method of the paper (DDPM 1000 steps, whole-ROI assistant, always append); single settings still override it', () => {
    const paper = resolveConfig({ cwd: '/w', env: { MEWM_PRESET: 'paper' } });
    expect(paper.preset).toBe('paper');
    expect(paper.worldModel.sampler).toEqual({ method: 'ddpm', steps: 1000 });
    expect(paper.planning).toMatchObject({ requireImprovement: false, appendLipiodolAfterDrugs: false, segmentationFocusMarginMm: null });
    expect(resolveConfig({ cwd: '/w', env: { MEWM_PRESET: 'paper', MEWM_SAMPLER_STEPS: '200', MEWM_SAMPLER: 'ddpm' } }).worldModel.sampler).toEqual({
      method: 'ddpm',
      steps: 200,
    });
    expect(resolveConfig({ cwd: '/w', env: {}, file: { preset: 'paper' } }).worldModel.sampler).toEqual({ method: 'ddpm', steps: 1000 });
    expect(resolveConfig({ cwd: '/w', env: {} }).preset).toBe('default');
    expect(() => resolveConfig({ cwd: '/w', env: { MEWM_PRESET: 'fast' } })).toThrow(/MEWM_PRESET must be one of default, paper/);
  });

  it('an ONNX backend without a model folder is an InvalidConfig naming MEWM_MODEL_DIR', () => {
    expect(() => resolveConfig({ cwd: '/w', env: {}, file: { worldModel: { modelDir: null } } })).toThrow(/needs MEWM_MODEL_DIR/);
    expect(resolveConfig({ cwd: '/w', env: { MEWM_WORLD_MODEL: 'oracle' }, file: { worldModel: { modelDir: null } } }).worldModel.backend).toBe('oracle');
    expect(resolveConfig({ cwd: '/w', env: { MEWM_MODEL_DIR: 'my/models' } }).worldModel.modelDir).toBe('/w/my/models');
  });

  it('env overrides file overrides defaults; arrays replace whole', () => {
    const config = resolveConfig({
      cwd: '/w',
      env: { MEWM_BEAMS: '2', MEWM_ROI_SIZE: '32', MEWM_APPEND_LIPIODOL: 'yes', TEMPORAL_ADDRESS: 'temporal:7233', MEWM_DATA_DIR: 'data2' },
      file: { planning: { beams: 3, replicas: 2, roiSize: [48, 48, 40] }, cohort: { concurrency: 2 } },
    });
    expect(config.planning.beams).toBe(2);
    expect(config.planning.replicas).toBe(2);
    expect(config.planning.roiSize).toEqual([32, 32, 32]);
    expect(config.planning.appendLipiodolAfterDrugs).toBe(true);
    expect(config.planning.drugHorizon).toBe(DEFAULT_PLAN_SETTINGS.drugHorizon);
    expect(config.cohort).toEqual({ concurrency: 2, pageSize: 50 });
    expect(config.temporal.address).toBe('temporal:7233');
    expect(config.dataDir).toBe('/w/data2');
    expect(config.artifacts.location).toBe('/w/data2/artifacts');
  });

  it.each([
    [{ MEWM_BEAMS: 'two' }, /MEWM_BEAMS must be an integer/],
    [{ MEWM_BEAMS: '0' }, /beams must be a positive integer.*MEWM_BEAMS/],
    [{ MEWM_WORLD_MODEL: 'magic' }, /MEWM_WORLD_MODEL must be oracle or onnx/],
    [{ MEWM_EXECUTION_PROVIDER: 'tpu' }, /MEWM_EXECUTION_PROVIDER must be cpu or cuda/],
    [{ MEWM_SAMPLER: 'euler' }, /MEWM_SAMPLER must be ddpm, ddim or dpm-solver\+\+/],
    [{ MEWM_SAMPLER_STEPS: '0' }, /MEWM_SAMPLER_STEPS/],
    [{ MEWM_MAX_BATCH: '0' }, /MEWM_MAX_BATCH/],
    [{ TEMPORAL_ADDRESS: 'localhost' }, /TEMPORAL_ADDRESS must be host:port/],
    [{ MEWM_ROI_SIZE: '96,96' }, /MEWM_ROI_SIZE must be one integer or three/],
    [{ MEWM_ROI_SIZE: '4' }, /roiSize must be three integers in \[8, 512\]/],
    [{ MEWM_APPEND_LIPIODOL: 'maybe' }, /MEWM_APPEND_LIPIODOL must be 1\/0/],
    [{ MEWM_COHORT_CONCURRENCY: '8', MEWM_COHORT_PAGE_SIZE: '4' }, /pageSize \(4\) must be at least cohort.concurrency \(8\)/],
    [{ MEWM_GPU_HEARTBEAT_S: '7200' }, /gpuHeartbeatS \(7200\) must be positive and below gpuStartToCloseS/],
    [{ MEWM_LOG_LEVEL: 'loud' }, /MEWM_LOG_LEVEL must be one of/],
  ])('rejects %o with an InvalidConfig that says how to fix it', (env, message) => {
    try {
      resolveConfig({ cwd: '/w', env });
      expect.unreachable();
    } catch (error) {
      expect(isMewmError(error, 'InvalidConfig')).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('the policy is a section of the same configuration, from the environment only', () => {
    expect(resolveConfig({ cwd: '/work/x', env: {} }).policy).toEqual({});
    const llm = resolveConfig({ cwd: '/work/x', env: { OPENAI_BASE_URL: 'http://127.0.0.1:8000/v1', MEWM_POLICY_MODEL: 'local' } }).policy.llm;
    expect(llm).toMatchObject({ baseURL: 'http://127.0.0.1:8000/v1', model: 'local', apiKey: 'no-key-configured' });
    expect(resolveConfig({ cwd: '/work/x', env: { MEWM_POLICY: 'action-base' }, file: { policy: { llm: { model: 'from-a-file' } } } }).policy).toEqual({
      actionBase: true,
    });
    let error: unknown;
    try {
      resolveConfig({ cwd: '/work/x', env: { MEWM_POLICY: 'clever' } });
    } catch (e) {
      error = e;
    }
    expect(isMewmError(error, 'InvalidConfig') && (error as Error).message).toMatch(/MEWM_POLICY must be auto, guideline, llm or action-base/);
  });

  it('loadConfig reads MEWM_CONFIG and reports a broken file by path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mewm-config-'));
    writeFileSync(join(dir, 'good.json'), JSON.stringify({ planning: { replicas: 7 } }));
    writeFileSync(join(dir, 'bad.json'), '{ planning: ');
    expect(loadConfig({ cwd: dir, env: { MEWM_CONFIG: 'good.json' } }).planning.replicas).toBe(7);
    expect(() => loadConfig({ cwd: dir, env: { MEWM_CONFIG: 'bad.json' } })).toThrow(/bad.json is not valid JSON/);
    expect(() => loadConfig({ cwd: dir, env: { MEWM_CONFIG: 'missing.json' } })).toThrow(/cannot read the config file/);
  });
});
