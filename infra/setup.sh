#!/usr/bin/env bash
# Installs everything mewm needs on a fresh machine, idempotently:
#   node packages (npm ci), the project venv .venv with the pinned Temporal CLI and the Python
#   test oracles. Options: --browser also installs Debian's chromium for the HTML report test;
#   --llm also installs the pinned local LLM (infra/llm/install.sh: llama-cpp-python[server] built
#   from source, SmolLM2-135M-Instruct GGUF; several minutes the first time, cached after).
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
want_llm=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    --llm) want_llm=1 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

# onnxruntime-node's postinstall would fetch CUDA libraries from NuGet; the CPU runtime is bundled.
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  python3 -m venv .venv
fi
if ! cmp -s requirements-test.txt .venv/.requirements-test.installed 2>/dev/null; then
  echo "setup: pip install -r requirements-test.txt" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
  cp requirements-test.txt .venv/.requirements-test.installed
fi

if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: apt-get install chromium" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: /usr/bin/chromium missing; run 'sudo apt-get install chromium' for the browser test" >&2
  fi
fi
if [ "$want_llm" = 1 ]; then
  bash infra/llm/install.sh
fi
echo "setup: done (temporal: $(.venv/bin/temporal --version))" >&2
