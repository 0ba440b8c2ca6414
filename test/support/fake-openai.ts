/**
 * A scripted OpenAI-compatible chat endpoint on loopback, for tests: the real `openai` client
 * talks to it over HTTP. Each POST /v1/chat/completions takes the next scripted reply (or the
 * fallback when the script is used up) and records the request body for assertions.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPolicy, llmEndpointConfig } from '../../src/policy/index';

export type ScriptedReply =
  /** 200 with a chat completion whose message content is `content`. */
  | { readonly kind: 'content'; readonly content: string | null; readonly model?: string; readonly refusal?: string }
  /** Any status with a JSON error body (e.g. 429, 500) and optional headers. */
  | { readonly kind: 'status'; readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly message?: string }
  /** Waits `delayMs` before answering with `then` (longer than the client timeout → timeout). */
  | { readonly kind: 'delay'; readonly delayMs: number; readonly then: ScriptedReply }
  /** Computes the reply from the request body. */
  | { readonly kind: 'dynamic'; readonly reply: (body: ChatRequestBody) => ScriptedReply };

export interface ChatRequestBody {
  readonly model: string;
  readonly messages: ReadonlyArray<{ role: string; content: unknown }>;
  readonly response_format?: { type: string; json_schema?: { name: string; schema: unknown; strict?: boolean } };
  readonly [key: string]: unknown;
}

export interface FakeOpenAi {
  /** Base URL for the client, e.g. `http://127.0.0.1:PORT/v1`. */
  readonly baseURL: string;
  /** Request bodies in arrival order (including those later retried by the client). */
  readonly requests: ChatRequestBody[];
  /** Replaces the script; replies are consumed in order. */
  script(...replies: ScriptedReply[]): void;
  /** Reply used once the script is exhausted (default: HTTP 500 "script exhausted"). */
  fallback: ScriptedReply;
  close(): Promise<void>;
}

export const content = (text: string | null, model?: string): ScriptedReply => ({ kind: 'content', content: text, ...(model ? { model } : {}) });
export const json = (value: unknown, model?: string): ScriptedReply => content(JSON.stringify(value), model);
export const status = (code: number, headers?: Record<string, string>): ScriptedReply => ({ kind: 'status', status: code, ...(headers ? { headers } : {}) });

let completionCounter = 0;

function completionBody(reply: Extract<ScriptedReply, { kind: 'content' }>, requestModel: string): string {
  completionCounter += 1;
  return JSON.stringify({
    id: `chatcmpl-fake-${completionCounter}`,
    object: 'chat.completion',
    created: 1_700_000_000,
    model: reply.model ?? requestModel,
    choices: [{ index: 0, finish_reason: 'stop', logprobs: null, message: { role: 'assistant', content: reply.content, refusal: reply.refusal ?? null } }],
    usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeOpenAi(): Promise<FakeOpenAi> {
  let queue: ScriptedReply[] = [];
  const requests: ChatRequestBody[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const state = { fallback: { kind: 'status', status: 500, message: 'script exhausted' } as ScriptedReply };

  const send = (res: ServerResponse, reply: ScriptedReply, body: ChatRequestBody): void => {
    if (res.destroyed) return;
    switch (reply.kind) {
      case 'content':
        res.writeHead(200, { 'content-type': 'application/json' }).end(completionBody(reply, body.model));
        return;
      case 'status':
        res
          .writeHead(reply.status, { 'content-type': 'application/json', ...(reply.headers ?? {}) })
          .end(JSON.stringify({ error: { message: reply.message ?? `scripted HTTP ${reply.status}`, type: 'fake_error', code: null } }));
        return;
      case 'delay': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send(res, reply.then, body);
        }, reply.delayMs);
        timers.add(timer);
        res.on('close', () => {
          clearTimeout(timer);
          timers.delete(timer);
        });
        return;
      }
      case 'dynamic':
        send(res, reply.reply(body), body);
        return;
    }
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const text = await readBody(req);
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
        return;
      }
      let body: ChatRequestBody;
      try {
        body = JSON.parse(text) as ChatRequestBody;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'request body is not JSON' } }));
        return;
      }
      requests.push(body);
      send(res, queue.shift() ?? state.fallback, body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    script(...replies) {
      queue = [...replies];
      requests.length = 0;
    },
    get fallback() {
      return state.fallback;
    },
    set fallback(reply: ScriptedReply) {
      state.fallback = reply;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The LLM policy on `fake` as workers run it: model gpt-4o, no client retries (Temporal retries), 10 s timeout. */
export function fakeLlmPolicy(fake: FakeOpenAi) {
  return createPolicy({ llm: llmEndpointConfig({ baseURL: fake.baseURL, apiKey: 'test-key', model: 'gpt-4o', maxRetries: 0, timeoutMs: 10_000 }) });
}
