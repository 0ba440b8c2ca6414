/**
 * The pinned local LLM (infra/llm: llama-cpp-python serving SmolLM2-135M-Instruct) for tests that
 * need a real model. `localLlm()` says whether it is installed; suites that need it skip with a
 * loud reason when it is not — except under CI (CI=true), where .ci/run installs it and a missing
 * install is a failure, never a silent skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../workers/dev-server';

const ROOT = resolve(import.meta.dirname, '..', '..');
const LLM_DIR = join(ROOT, '.llm');

function pins(): Record<string, string> {
  const text = readFileSync(join(ROOT, 'infra', 'llm', 'versions.env'), 'utf8');
  return Object.fromEntries([...text.matchAll(/^([A-Z0-9_]+)=("?)(.*)\2$/gm)].map((m) => [m[1]!, m[3]!]));
}

export interface LocalLlmInstall {
  readonly python: string;
  readonly modelFile: string;
  /** The model id the server reports (`--model_alias`). */
  readonly model: string;
}

/** The installed local LLM, or why it is not usable. */
export function localLlm(): { readonly ok: true; readonly install: LocalLlmInstall } | { readonly ok: false; readonly reason: string } {
  const p = pins();
  const python = join(LLM_DIR, 'venv', 'bin', 'python');
  const modelFile = join(LLM_DIR, (p.SMOLLM2_GGUF_MEMBER ?? '').split('/').pop() ?? '');
  if (!existsSync(join(LLM_DIR, 'installed')) || !existsSync(python) || !existsSync(modelFile)) {
    return { ok: false, reason: "the local LLM is not installed (.llm/): run 'bash infra/llm/install.sh' or 'bash infra/setup.sh --llm'" };
  }
  return { ok: true, install: { python, modelFile, model: p.LOCAL_LLM_MODEL! } };
}

/**
 * True when the real-model suite can run. Otherwise prints a loud reason and returns false —
 * or, under CI, throws: CI installs the model, so its absence there is a broken setup.
 */
export function realModelAvailable(suite: string): boolean {
  const found = localLlm();
  if (found.ok) return true;
  if (process.env.CI) throw new Error(`${suite}: ${found.reason} — .ci/run must install it`);
  process.stderr.write(`\n*** SKIPPED ${suite}: ${found.reason} ***\n\n`);
  return false;
}

export interface RunningLocalLlm {
  readonly baseURL: string;
  readonly model: string;
  stop(): Promise<void>;
}

/**
 * Starts the pinned model on a free loopback port and waits until it answers (≤ `timeoutMs`).
 * One thread by default: llama.cpp's threads meet at a barrier after every operation, so on a
 * busy machine (tests in parallel, 2 cores) a second thread that is not scheduled stalls the
 * first — measured on 2 cores at a load average of about 9: 0.5–5 tokens/s with 2 threads (server
 * at nice 10) against 11–21 tokens/s with 1 thread (nice 5); the nice levels alone would explain
 * a factor of about 3, not 0.5 tokens/s.
 */
export async function startLocalLlm(options: { readonly threads?: number; readonly ctx?: number; readonly timeoutMs?: number } = {}): Promise<RunningLocalLlm> {
  const found = localLlm();
  if (!found.ok) throw new Error(found.reason);
  const { python, modelFile, model } = found.install;
  const port = await freePort();
  const logFile = join(mkdtempSync(join(tmpdir(), 'mewm-llm-')), 'server.log');
  const { openSync } = await import('node:fs');
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    python,
    [
      '-m',
      'llama_cpp.server',
      '--model',
      modelFile,
      '--model_alias',
      model,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--n_ctx',
      String(options.ctx ?? 4096),
      '--n_threads',
      String(options.threads ?? 1),
    ],
    { stdio: ['ignore', out, out] },
  );
  const baseURL = `http://127.0.0.1:${port}/v1`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the local LLM server exited during start-up (code ${child.exitCode}); log:\n${readFileSync(logFile, 'utf8').slice(-2_000)}`);
    try {
      const response = await fetch(`${baseURL}/models`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return { baseURL, model, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`the local LLM server did not answer within ${options.timeoutMs ?? 60_000} ms; log:\n${readFileSync(logFile, 'utf8').slice(-2_000)}`);
}
