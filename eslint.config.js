// @ts-check
/**
 * mewm's lint rules (`npm run lint`, run by .ci/run). What matters here is what the compiler does
 * not check: the import boundaries of docs/architecture.md, workflow determinism (no Node
 * built-ins), floating promises, type-only imports and exhaustive switches. Formatting is
 * Prettier's job (`npm run format:check`), not ESLint's.
 */
import { builtinModules } from 'node:module';
import path from 'node:path';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const ROOT = import.meta.dirname;

/** The libraries under src/ that the Temporal layers (activities, workers) may use. */
const SRC_LIBRARIES = [
  'src/core',
  'src/io',
  'src/world',
  'src/models',
  'src/backends',
  'src/policy',
  'src/artifacts',
  'src/evaluation',
  'src/config',
  'src/logging',
];

/**
 * docs/architecture.md, "who may import whom", as data. A file belongs to the layer with the
 * longest matching path; it may import its own layer (unless `isolated`: then only the paths in
 * `may`), npm packages, the paths in `may`, and with `import type` also those in `types`. Paths
 * are folders or single files, relative to the root.
 */
const LAYERS = {
  'src/core': { may: [] },
  'src/io': { may: ['src/core'] },
  'src/models': { may: ['src/core', 'src/io'] },
  // the oracle implements the models' contract; backend selection lives above both (src/backends)
  'src/world': { may: ['src/core', 'src/io', 'src/models/world-model.ts'] },
  'src/backends': { may: ['src/core', 'src/io', 'src/models', 'src/world'] },
  'src/policy': { may: ['src/core'] },
  'src/artifacts': { may: ['src/core', 'src/io'] },
  // evaluation measures the world model against the synthetic world
  'src/evaluation': { may: ['src/core', 'src/io', 'src/models', 'src/world'] },
  // the typed configuration parses the policy's section with the policy's own parser (one pipeline)
  'src/config': { may: ['src/core', 'src/policy/config.ts'] },
  'src/policy/config.ts': { may: ['src/core'] },
  // the process's pino logger, for the CLI, the application layer and the workers alike
  'src/logging': { may: [], types: ['src/config'] },
  // the application layer between the CLI and the engine: typed Temporal client, plan audits, case input, cohort runs
  'src/app': { may: [...SRC_LIBRARIES, 'activities', 'workflows', 'workers'] },
  // one file per command: a command imports the command skeleton, never another command (`isolated`)
  'src/cli': { may: [...SRC_LIBRARIES, 'src/app', 'activities', 'workflows', 'workers', 'src/cli/command.ts', 'src/cli/command-support.ts'], isolated: true },
  'src/cli/main.ts': { may: ['src/cli'] },
  'src/cli/command.ts': { may: ['src/core'] },
  'src/cli/command-support.ts': { may: [] },
  // evaluate's planned rows (Temporal + in-process workers per method), a module of `mewm evaluate`
  'src/cli/evaluate-planning.ts': {
    may: [...SRC_LIBRARIES, 'src/app', 'activities', 'workflows', 'workers', 'src/cli/command-support.ts'],
  },
  // deterministic sandbox: values from src/core only; payload and activity types from anywhere in src
  workflows: { may: ['src/core'], types: [...SRC_LIBRARIES, 'activities'] },
  activities: { may: SRC_LIBRARIES, types: ['workflows'] },
  workers: { may: [...SRC_LIBRARIES, 'activities', 'workflows'] },
  bench: { may: [...SRC_LIBRARIES, 'src/app', 'src/cli', 'activities', 'workflows', 'workers'] },
  test: { may: ['src', 'activities', 'workflows', 'workers', 'bench'] },
};

/**
 * Known exceptions to LAYERS, each with its reason and the way out; keep this list short. (A
 * single import in a file that is not in flight gets an `eslint-disable-next-line mewm/layers --
 * reason` instead.)
 * @type {Record<string, { may: string[]; why: string }>}
 */
const EXCEPTIONS = {
  'src/cli/evaluate.ts': {
    may: ['src/cli/evaluate-planning.ts'],
    why: "evaluate's planned rows are a module of the command (not a command, it reports progress on the terminal); it moves to src/app/ once its progress is injected",
  },
  'bench/llm-policy.ts': {
    may: ['test/support/local-llm.ts'],
    why: 'starts the local LLM server through the test harness; the start-up belongs in src/ or infra/llm (issue 13: bench must not import test/support)',
  },
};

/** @param {string} relative @param {string} prefix */
const within = (relative, prefix) => relative === prefix || relative.startsWith(`${prefix}/`);

/** @param {string} relative */
function layerOf(relative) {
  let best = /** @type {string | undefined} */ (undefined);
  for (const layer of Object.keys(LAYERS)) if (within(relative, layer) && (best === undefined || layer.length > best.length)) best = layer;
  return best;
}

/**
 * @param {import('typescript-eslint').TSESTree.Node} node
 * @returns {boolean}
 */
function typeOnly(node) {
  if (node.type === 'ImportDeclaration') {
    return node.importKind === 'type' || (node.specifiers.length > 0 && node.specifiers.every((s) => s.type === 'ImportSpecifier' && s.importKind === 'type'));
  }
  if (node.type === 'ExportNamedDeclaration') {
    return node.exportKind === 'type' || (node.specifiers.length > 0 && node.specifiers.every((s) => s.exportKind === 'type'));
  }
  if (node.type === 'ExportAllDeclaration') return node.exportKind === 'type';
  return false;
}

/** @type {import('eslint').Rule.RuleModule} */
const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'imports follow the layers of docs/architecture.md' },
    schema: [],
    messages: { layer: '{{from}} may not {{kind}} {{target}} (docs/architecture.md: {{from}} may import {{allowed}})' },
  },
  create(context) {
    const file = path.relative(ROOT, context.physicalFilename).split(path.sep).join('/');
    const from = layerOf(file);
    if (from === undefined) return {};
    const {
      may,
      types = [],
      isolated = false,
    } = /** @type {{ may: string[]; types?: string[]; isolated?: boolean }} */ (LAYERS[/** @type {keyof typeof LAYERS} */ (from)]);
    /** @param {any} node @param {any} source */
    function check(node, source) {
      if (source?.type !== 'Literal' || typeof source.value !== 'string' || !source.value.startsWith('.')) return;
      const target = path
        .relative(ROOT, path.resolve(path.dirname(context.physicalFilename), source.value))
        .split(path.sep)
        .join('/');
      const isType = typeOnly(node);
      const allowed = [
        ...(isolated ? [] : [from]),
        ...may,
        ...(isType ? types : []),
        ...(EXCEPTIONS[/** @type {keyof typeof EXCEPTIONS} */ (file)]?.may ?? []),
      ];
      if (allowed.some((prefix) => within(target, prefix) || within(`${target}.ts`, prefix))) return;
      context.report({
        node: source,
        messageId: 'layer',
        data: {
          from,
          kind: isType ? 'import types from' : 'import',
          target,
          allowed: [...may, ...types.map((t) => `types from ${t}`)].join(', ') || 'nothing outside itself',
        },
      });
    }
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source),
    };
  },
};

const nodeBuiltins = {
  patterns: [{ group: ['node:*'], message: 'Node built-ins break the Temporal workflow sandbox and the purity of src/core.' }],
  paths: builtinModules.map((name) => ({ name, message: 'Node built-ins break the Temporal workflow sandbox and the purity of src/core.' })),
};

export default defineConfig(
  {
    ignores: ['node_modules/**', '.venv/**', '.data/**', 'models/**', 'examples/**', 'training/**', 'infra/**', '**/*.js', '**/*.mjs', '**/*.cjs'],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: ROOT },
    },
    linterOptions: { reportUnusedDisableDirectives: 'warn' },
    plugins: { '@typescript-eslint': tseslint.plugin, mewm: { rules: { layers: layersRule } } },
    rules: {
      'mewm/layers': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
  {
    // Production code logs through pino (src/logging/logger.ts; workflows: @temporalio/workflow's log), never the console.
    files: ['src/**/*.ts', 'workflows/**/*.ts', 'activities/**/*.ts', 'workers/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    // Deterministic code: the workflow bundle (no Node APIs in Temporal's sandbox) and src/core (imported by it).
    files: ['workflows/**/*.ts', 'src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', nodeBuiltins],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'require', '__dirname', '__filename', 'setImmediate'],
    },
  },
);
