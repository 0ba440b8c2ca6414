import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config';
import { workerLimits } from '../../workers/create-workers';

describe('worker limits from the config', () => {
  it('the shutdown grace time comes from MEWM_SHUTDOWN_GRACE_S (default 10 s), in milliseconds', () => {
    const defaults = resolveConfig({ cwd: '/w', env: {} }).workers;
    expect(defaults.shutdownGraceS).toBe(10);
    expect(workerLimits('gpu', defaults).shutdownGraceTime).toBe(10_000);
    const configured = resolveConfig({ cwd: '/w', env: { MEWM_SHUTDOWN_GRACE_S: '90' } }).workers;
    expect(workerLimits('gpu', configured).shutdownGraceTime).toBe(90_000);
    expect(resolveConfig({ cwd: '/w', env: {}, file: { workers: { shutdownGraceS: 0.5 } } }).workers.shutdownGraceS).toBe(0.5);
  });

  it.each(['-1', 'soon', '7200'])('MEWM_SHUTDOWN_GRACE_S=%s is an InvalidConfig naming the variable', (value) => {
    expect(() => resolveConfig({ cwd: '/w', env: { MEWM_SHUTDOWN_GRACE_S: value } })).toThrow(
      expect.objectContaining({ code: 'InvalidConfig', message: expect.stringContaining('MEWM_SHUTDOWN_GRACE_S') }),
    );
  });

  it('slots per queue; only the CPU worker caches workflows', () => {
    const workers = resolveConfig({ cwd: '/w', env: { MEWM_GPU_SLOTS: '2', MEWM_LLM_SLOTS: '3', MEWM_CPU_SLOTS: '5' } }).workers;
    expect(workerLimits('gpu', workers)).toMatchObject({ maxConcurrentActivityTaskExecutions: 2, maxCachedWorkflows: 0 });
    expect(workerLimits('llm', workers)).toMatchObject({ maxConcurrentActivityTaskExecutions: 3, maxCachedWorkflows: 0 });
    expect(workerLimits('cpu', workers)).toMatchObject({ maxConcurrentActivityTaskExecutions: 5, maxCachedWorkflows: workers.maxCachedWorkflows });
  });
});
