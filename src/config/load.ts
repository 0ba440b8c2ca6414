/** Reads the configuration once at start-up: the JSON file (if any), the environment, CLI overrides. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MewmError } from '../core/errors';
import { resolveConfig, type ConfigOverrides, type MewmConfig } from './config';

export interface LoadConfigOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A JSON config file; defaults to `MEWM_CONFIG` when set. */
  readonly configPath?: string;
  readonly overrides?: ConfigOverrides;
}

export function loadConfig(options: LoadConfigOptions = {}): MewmConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const path = options.configPath ?? (env.MEWM_CONFIG?.trim() || undefined);
  let file: unknown;
  if (path !== undefined) {
    const absolute = resolve(cwd, path);
    let text: string;
    try {
      text = readFileSync(absolute, 'utf8');
    } catch (error) {
      throw new MewmError('InvalidConfig', `cannot read the config file ${absolute}: check MEWM_CONFIG / --config`, { path: absolute }, { cause: error });
    }
    try {
      file = JSON.parse(text);
    } catch (error) {
      throw new MewmError('InvalidConfig', `the config file ${absolute} is not valid JSON: ${(error as Error).message}`, { path: absolute }, { cause: error });
    }
  }
  return resolveConfig({ cwd, env, file, ...(options.overrides ? { overrides: options.overrides } : {}) });
}
