/**
 * World-model backend selection by configuration (MEWM_WORLD_MODEL), never by editing code:
 *   oracle  the synthetic world's truth (src/world/oracle), for a cohort written by `mewm synth`
 *   onnx    the learned models (src/models/onnx), from a folder of model folders with manifests
 *
 * It sits above both backends (src/world implements the src/models contract, so selecting
 * between them inside src/models would be a cycle); workers and CLI commands import it.
 *
 * Oracle label cache: the oracle's assistant returns exact labels for CTs it rendered *in this
 * process* and approximate ones otherwise. A plan whose GPU worker died would then score resumed
 * replicas differently from an undisturbed run, so the cache is off unless asked for
 * (`oracleLabelCache`): every segmentation is the same pure function of (case, CT), in any process.
 */
import { availableParallelism } from 'node:os';
import { MewmError } from '../core/errors';
import type { WorldModel } from '../models/world-model';

export interface WorldModelConfig {
  readonly backend: 'oracle' | 'onnx';
  readonly oracleCohortDir: string | null;
  readonly modelDir: string | null;
  /** Oracle only: exact labels for CTs rendered in this process (not reproducible across workers). */
  readonly oracleLabelCache?: boolean;
  /** ONNX runtime options; absent or null = the runtime's defaults. */
  readonly executionProvider?: 'cpu' | 'cuda';
  readonly sampler?: { readonly method: 'ddpm' | 'ddim' | 'dpm-solver++'; readonly steps: number } | null;
  readonly maxBatch?: number | null;
  readonly intraOpThreads?: number | null;
  readonly sessionWorkers?: number | null;
}

interface OnnxBackendModule {
  createOnnxWorldModel(options: {
    modelDir: string;
    executionProvider?: 'cpu' | 'cuda';
    sampler?: { method: 'ddpm' | 'ddim' | 'dpm-solver++'; steps: number };
    maxBatch?: number;
    intraOpNumThreads?: number;
    sessionWorkers?: number;
  }): Promise<WorldModel>;
}

export async function createWorldModel(config: WorldModelConfig): Promise<WorldModel> {
  switch (config.backend) {
    case 'oracle': {
      if (!config.oracleCohortDir) {
        throw new MewmError(
          'InvalidConfig',
          'the oracle world model needs the synthetic cohort it simulates: set MEWM_ORACLE_COHORT to a folder written by `mewm synth` (or MEWM_WORLD_MODEL=onnx with MEWM_MODEL_DIR)',
          { variable: 'MEWM_ORACLE_COHORT' },
        );
      }
      const { createOracleWorldModel } = await import('../world/oracle');
      return createOracleWorldModel({ cohortDir: config.oracleCohortDir, ...(config.oracleLabelCache ? {} : { maxCachedLabelBytes: 0 }) });
    }
    case 'onnx': {
      if (!config.modelDir)
        throw new MewmError('InvalidConfig', 'MEWM_WORLD_MODEL=onnx needs MEWM_MODEL_DIR (the folder with dynamics/, assistant/, heuristic/)', {
          variable: 'MEWM_MODEL_DIR',
        });
      // Resolved at run time so that the oracle path does not load onnxruntime.
      const specifier = '../models/onnx/index';
      let onnx: OnnxBackendModule;
      try {
        onnx = (await import(specifier)) as OnnxBackendModule;
      } catch (error) {
        throw new MewmError('ModelMissing', 'the ONNX backend (src/models/onnx) could not be loaded', {}, { cause: error });
      }
      return onnx.createOnnxWorldModel({
        modelDir: config.modelDir,
        ...(config.executionProvider ? { executionProvider: config.executionProvider } : {}),
        ...(config.sampler ? { sampler: config.sampler } : {}),
        ...(config.maxBatch ? { maxBatch: config.maxBatch } : {}),
        ...(config.intraOpThreads ? { intraOpNumThreads: config.intraOpThreads } : {}),
        sessionWorkers: config.sessionWorkers ?? defaultSessionWorkers(config.executionProvider ?? 'cpu'),
      });
    }
    default:
      throw new MewmError('InvalidConfig', `unknown world-model backend "${String((config as { backend: unknown }).backend)}": use oracle or onnx`, {
        variable: 'MEWM_WORLD_MODEL',
      });
  }
}

/** Session threads when none are configured: one per core up to 2 on CPU (a plan's ONNX work then uses both cores of a small machine), 1 on CUDA. */
export function defaultSessionWorkers(provider: 'cpu' | 'cuda'): number {
  return provider === 'cuda' ? 1 : Math.max(1, Math.min(2, availableParallelism()));
}
