/**
 * The lint rules of eslint.config.js catch what they are there for: the import boundaries of
 * docs/architecture.md (`mewm/layers`), Node built-ins in deterministic code and value imports of
 * types. Snippets are linted under virtual file names in the layer they test; the type-aware rules
 * (no-floating-promises, switch-exhaustiveness-check) need files of the TypeScript project and are
 * left to typescript-eslint's own tests.
 */
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const eslint = new ESLint({
  cwd: root,
  overrideConfig: {
    languageOptions: { parserOptions: { projectService: false } },
    rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/switch-exhaustiveness-check': 'off' },
  },
});

async function rulesHit(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return result!.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`);
}

describe('eslint.config.js', { timeout: 60_000 }, () => {
  it.each([
    // workflows: deterministic sandbox
    ['workflows/probe.ts', "import { readFile } from 'node:fs';\nexport const r = readFile;", ['no-restricted-imports']],
    ['workflows/probe.ts', "import crypto from 'crypto';\nexport const c = crypto;", ['no-restricted-imports']],
    ['workflows/probe.ts', 'export const home = process.env.HOME;', ['no-restricted-globals']],
    ['workflows/probe.ts', "import { activitiesFor } from '../workers/activities';\nexport const a = activitiesFor;", ['mewm/layers']],
    ['workflows/probe.ts', "import { createCaseActivities } from '../activities/case';\nexport const g = createCaseActivities;", ['mewm/layers']],
    ['workflows/probe.ts', "import type { CaseActivities } from '../activities/case';\nexport type C = CaseActivities;", []],
    ['workflows/probe.ts', "import { type CaseActivities } from '../activities/case';\nexport type C = CaseActivities;", []],
    ['workflows/probe.ts', "import { initBeams } from '../src/core/planning/beam-search';\nexport const b = initBeams(1);", []],
    ['workflows/probe.ts', "import { proxyActivities } from '@temporalio/workflow';\nexport const p = proxyActivities;", []],
    // src/core: pure
    ['src/core/probe.ts', "import { readFileSync } from 'fs';\nexport const r = readFileSync;", ['no-restricted-imports']],
    ['src/core/volume/probe.ts', "import { readNifti } from '../../io/nifti';\nexport const r = readNifti;", ['mewm/layers']],
    ['src/core/volume/probe.ts', "import { deriveSeed } from '../random';\nexport const d = deriveSeed;", []],
    // the models ↔ world cycle stays broken; backend selection sits above both
    ['src/models/probe.ts', "import { createOracleWorldModel } from '../world/oracle';\nexport const o = createOracleWorldModel;", ['mewm/layers']],
    ['src/models/probe.ts', "export const load = () => import('../world/oracle');", ['mewm/layers']],
    ['src/world/probe.ts', "import type { WorldModel } from '../models/world-model';\nexport type W = WorldModel;", []],
    ['src/world/probe.ts', "import { createOnnxWorldModel } from '../models/onnx/index';\nexport const o = createOnnxWorldModel;", ['mewm/layers']],
    ['src/backends/probe.ts', "import { createOracleWorldModel } from '../world/oracle';\nexport const o = createOracleWorldModel;", []],
    // libraries never reach up into the Temporal layers or the CLI
    ['src/policy/probe.ts', "import { runPlan } from '../cli/plan';\nexport const r = runPlan;", ['mewm/layers']],
    ['activities/probe.ts', "import { runPlan } from '../src/cli/plan';\nexport const r = runPlan;", ['mewm/layers']],
    ['activities/probe.ts', "import type { PlanInput } from '../workflows/types';\nexport type P = PlanInput;", []],
    // a command imports the command skeleton and the application layer, never another command; src/app never the CLI
    ['src/cli/probe.ts', "import { runBaseline } from './baseline';\nexport const r = runBaseline;", ['mewm/layers']],
    [
      'src/cli/probe.ts',
      "import { runCommand } from './command';\nimport { resolveCase } from '../app/case-input';\nexport const r = [runCommand, resolveCase];",
      [],
    ],
    ['src/app/probe.ts', "import { stepTable } from '../cli/plan';\nexport const s = stepTable;", ['mewm/layers']],
    ['src/cli/main.ts', "export const load = () => import('./plan');", []],
    // one configuration pipeline: src/config reads the policy's settings through src/policy/config.ts only
    ['src/config/probe.ts', "import { policyConfigFromEnv } from '../policy/config';\nexport const p = policyConfigFromEnv;", []],
    ['src/config/probe.ts', "import { createPolicy } from '../policy/index';\nexport const p = createPolicy;", ['mewm/layers']],
    // bench and production code never import the tests' harness
    ['bench/probe.ts', "import { tempDir } from '../test/support/temporal';\nexport const t = tempDir;", ['mewm/layers']],
    ['workers/probe.ts', "import { tempDir } from '../test/support/temporal';\nexport const t = tempDir;", ['mewm/layers']],
    [
      'test/probe.test.ts',
      "import { tempDir } from './support/temporal';\nimport { planTreatment } from '../workflows/plan-treatment';\nexport const t = [tempDir, planTreatment];",
      [],
    ],
    // production code logs through pino; tests and benches may print
    ['src/cli/probe.ts', "console.log('done');", ['no-console']],
    ['workers/probe.ts', "console.error('failed');", ['no-console']],
    ['bench/probe.ts', "console.log('ratio');", []],
    // type-only imports are written as such
    [
      'src/core/probe.ts',
      "import { Beam } from './planning/beam-search';\nexport const slot = (b: Beam) => b.slot;",
      ['@typescript-eslint/consistent-type-imports'],
    ],
  ])('%s: %j → %j', async (file, code, expected) => {
    expect(await rulesHit(file, code)).toEqual(expected);
  });
});
