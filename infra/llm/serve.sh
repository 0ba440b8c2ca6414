#!/usr/bin/env bash
# Serves mewm's pinned local LLM (infra/llm/install.sh) on loopback behind an OpenAI-compatible
# API, prints the environment that points mewm at it, and runs until interrupted:
#
#   bash infra/llm/serve.sh [--port N] [--threads N] [--ctx N]
#
#   export OPENAI_BASE_URL=http://127.0.0.1:8765/v1
#   export MEWM_POLICY_MODEL=SmolLM2-135M-Instruct.Q4_1
#   export MEWM_POLICY_IMAGES=0
#   export MEWM_POLICY_MAX_TOKENS=512
#
# No key is needed (set none, or any: the local server ignores it). The model is tiny (135 M
# parameters): it exercises every LLM path of mewm for real, it is not a clinical advisor.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=versions.env
source infra/llm/versions.env

port="${MEWM_LLM_PORT:-8765}"
threads="${MEWM_LLM_THREADS:-2}"
ctx="${MEWM_LLM_CTX:-4096}"
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --ctx) ctx="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "serve.sh: unknown option $1 (--port N, --threads N, --ctx N)" >&2; exit 2 ;;
  esac
done

model_file=".llm/$(basename "$SMOLLM2_GGUF_MEMBER")"
if [ ! -x .llm/venv/bin/python ] || [ ! -f "$model_file" ] || [ ! -f .llm/installed ]; then
  echo "serve.sh: the local LLM is not installed: run 'bash infra/llm/install.sh' (or 'bash infra/setup.sh --llm')" >&2
  exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "serve.sh: something already listens on 127.0.0.1:$port; choose another with --port" >&2
  exit 1
fi

log="$(mktemp -t mewm-llm-server.XXXXXX.log)"
.llm/venv/bin/python -m llama_cpp.server --model "$model_file" --model_alias "$LOCAL_LLM_MODEL" \
  --host 127.0.0.1 --port "$port" --n_ctx "$ctx" --n_threads "$threads" >"$log" 2>&1 &
server=$!
# uvicorn's graceful shutdown waits for requests in flight, and llama-cpp-python finishes a
# generation even when its client has gone: give it 5 s, then kill it.
stop_server() {
  kill "$server" 2>/dev/null || return 0
  for _ in $(seq 1 10); do kill -0 "$server" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$server" 2>/dev/null || true
}
trap 'stop_server' EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 120); do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "serve.sh: the server exited during start-up; its log ($log) ends with:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  # Ours answers (not something else that took the port meanwhile): the child must still run.
  if .llm/venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/v1/models', timeout=1)" 2>/dev/null && kill -0 "$server" 2>/dev/null; then
    echo "export OPENAI_BASE_URL=http://127.0.0.1:$port/v1"
    echo "export MEWM_POLICY_MODEL=$LOCAL_LLM_MODEL"
    echo "export MEWM_POLICY_IMAGES=0"
    echo "export MEWM_POLICY_MAX_TOKENS=512"
    echo "serve.sh: $LOCAL_LLM_MODEL (llama-cpp-python $LLAMA_CPP_PYTHON_VERSION) on 127.0.0.1:$port; log $log; Ctrl-C stops it" >&2
    wait "$server" || exit $?
    exit 0
  fi
  sleep 0.5
done
echo "serve.sh: the server did not answer within 60 s; its log ($log) ends with:" >&2
tail -n 20 "$log" >&2
exit 1
