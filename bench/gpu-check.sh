#!/usr/bin/env bash
# GPU readiness check (issue 12), for a machine with one NVIDIA GPU, inside 5 minutes:
#   1. the GPU and driver (nvidia-smi);
#   2. onnxruntime-node's CUDA provider libraries next to libonnxruntime.so.1, installed if absent
#      by one of the two routes of docs/deployment.md (NuGet via npm, or the onnxruntime-gpu
#      1.30.0 wheel's libraries from ORT_CUDA_PROVIDER_DIR), and `ldd` finding every library
#      they need (CUDA + cuDNN; pip's nvidia-* wheels are put on LD_LIBRARY_PATH if present);
#   3. parity on the GPU: every graph of the demo models against its recorded PyTorch outputs,
#      and ms per call on CUDA vs CPU (bench/gpu-parity.ts; fails if CUDA fell back to the CPU);
#   4. the per-stage cost on CUDA vs CPU (bench/stages.ts, 8 replicas each);
#   5. one default `mewm plan` of the bundled case on CUDA (bench/plan-time.ts --backends onnx):
#      wall time, stage split, peak RSS, protocol (compare it with the CPU plan's protocol).
#
#   bash bench/gpu-check.sh [--skip-plan]
#
# Needs: node ≥ 20.19 and `npm ci` done (or this checkout's node_modules), the Temporal CLI of
# infra/setup.sh for step 5. Exit status: 0 all passed; 1 a check failed (the line says which).
# Each step has its own time limit (GPU_CHECK_* variables) so the whole stays under 5 minutes.
set -uo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"
skip_plan=0
[[ "${1:-}" == "--skip-plan" ]] && skip_plan=1
ort_dir="node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
started=$(date +%s)
step() { printf '\n== %s (%ds)\n' "$1" "$(( $(date +%s) - started ))"; }
fail() { printf 'GPU CHECK FAILED: %s\n' "$1" >&2; exit 1; }

step "1. GPU"
command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: no NVIDIA driver on this machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || fail "nvidia-smi cannot talk to the driver"
nvidia-smi | grep -o 'CUDA Version: [0-9.]*' || true
command -v node >/dev/null || fail "node not found (Node ≥ 20.19 is needed)"
[[ -d "$ort_dir" ]] || fail "$ort_dir is missing: run npm ci first"

step "2. onnxruntime-node CUDA provider libraries"
if [[ ! -f "$ort_dir/libonnxruntime_providers_cuda.so" ]]; then
  if [[ -n "${ORT_CUDA_PROVIDER_DIR:-}" ]]; then
    # Route 2 of docs/deployment.md: the onnxruntime-gpu wheel of the same version (1.30.0), capi/ folder.
    cp "$ORT_CUDA_PROVIDER_DIR"/libonnxruntime_providers_cuda.so "$ORT_CUDA_PROVIDER_DIR"/libonnxruntime_providers_shared.so "$ort_dir"/ || fail "cannot copy the provider libraries from ORT_CUDA_PROVIDER_DIR=$ORT_CUDA_PROVIDER_DIR"
    echo "copied the provider libraries from $ORT_CUDA_PROVIDER_DIR"
  else
    # Route 1: onnxruntime's install script fetches its cuda12 build's provider libraries from NuGet.
    echo "provider libraries absent: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node (needs NuGet)"
    timeout "${GPU_CHECK_INSTALL_S:-120}" env ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node ||
      fail "could not install the CUDA provider (no NuGet?): set ORT_CUDA_PROVIDER_DIR to the capi/ folder of an onnxruntime-gpu 1.30.0 wheel (docs/deployment.md)"
  fi
fi
# CUDA/cuDNN from pip's nvidia-* wheels, when they are installed for some Python here.
for py in .venv/bin/python training/.venv/bin/python python3; do
  command -v "$py" >/dev/null 2>&1 || continue
  libs=$("$py" - <<'EOF' 2>/dev/null
import glob, os, site
dirs = [d for p in site.getsitepackages() for d in glob.glob(os.path.join(p, "nvidia", "*", "lib"))]
print(":".join(dirs))
EOF
)
  [[ -n "$libs" ]] && export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && echo "LD_LIBRARY_PATH += nvidia wheels of $py" && break
done
missing=$(ldd "$ort_dir/libonnxruntime_providers_cuda.so" | grep 'not found' || true)
if [[ -n "$missing" ]]; then
  echo "$missing"
  fail "the CUDA provider needs libraries this machine lacks (above): CUDA and cuDNN 9 of the provider's build (docs/deployment.md)"
fi
echo "provider libraries present, every dependency found"

step "3. parity on the GPU (every graph vs its recorded PyTorch outputs), CUDA vs CPU ms/call"
timeout "${GPU_CHECK_PARITY_S:-90}" node --import tsx bench/gpu-parity.ts --provider cuda --batch 8 --iterations 10 || fail "parity on CUDA (see above)"

step "4. per-stage cost, CUDA vs CPU (8 replicas each)"
timeout "${GPU_CHECK_STAGES_S:-90}" node --import tsx bench/stages.ts --provider cuda || fail "stages on CUDA"
timeout "${GPU_CHECK_STAGES_S:-90}" node --import tsx bench/stages.ts --provider cpu || echo "(the CPU stages did not finish in time: skipped)"

if [[ $skip_plan -eq 0 ]]; then
  step "5. one default plan of the bundled case on CUDA"
  timeout "${GPU_CHECK_PLAN_S:-150}" node --import tsx bench/plan-time.ts --backends onnx --env MEWM_EXECUTION_PROVIDER=cuda || fail "plan on CUDA"
fi
step "GPU check passed"
