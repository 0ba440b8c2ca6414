"""PyTorch-eager side of bench/denoiser.ts: the dynamics denoiser of a model folder as PyTorch
runs it (the trained module: Conv3d through oneDNN), with the folder's own weights (rebuilt from
the graph by training.reexport_denoiser.torch_denoiser), on the same synthetic inputs as the
TypeScript side.

    training/.venv/bin/python -m training.bench_denoiser --model-dir DIR [--batch 8] [--threads 1]
        [--iterations 20] [--serve]

Without --serve: times `iterations` calls, prints one JSON line {"msPerCall", "cpuMsPerCall",
"batch", "threads"} (wall and process CPU time per call).
With --serve: prints {"ready": true, ...} and then, for every line "K" read from stdin, times K
calls and prints {"msPerCall", "cpuMsPerCall"}, so that bench/denoiser.ts can interleave
PyTorch and onnxruntime-node rounds in one run (the load of a shared machine changes by the second).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .reexport_denoiser import torch_denoiser


def synthetic(n: int, shape: list[int], name: str) -> np.ndarray:
    """The inputs of bench/denoiser.ts: sin(i * 12.9898) * 0.8 (|·| for the mask), 500 for timestep."""
    size = math.prod(shape)
    if name == "timestep":
        return np.full(shape, 500, np.float32)
    v = (np.sin(np.arange(size, dtype=np.float64) * 12.9898) * 0.8).astype(np.float32)
    return (np.abs(v) if name == "mask" else v).reshape(shape)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    m = json.loads((Path(args.model_dir) / "manifest.json").read_text())
    spec = m["graphs"]["denoiser"]
    net = torch_denoiser(Path(args.model_dir) / spec["file"], m["latent"]["channels"], m["latent"]["downsample"])
    n = args.batch
    arrays = [synthetic(n, [n if not isinstance(d, int) else d for d in i["shape"]], i["name"]) for i in spec["inputs"]]
    inputs = tuple(torch.from_numpy(a) for a in arrays)

    def timed(k: int) -> dict:
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(k):
            net(*inputs)
        return {"msPerCall": 1000 * (time.perf_counter() - start) / k, "cpuMsPerCall": 1000 * (time.process_time() - cpu) / k}

    with torch.inference_mode():
        for _ in range(3):
            net(*inputs)
        if not args.serve:
            print(json.dumps({**timed(args.iterations), "batch": n, "threads": args.threads}))
            return
        print(json.dumps({"ready": True, "torch": torch.__version__, "onednn": torch.backends.mkldnn.is_available()}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                break
            print(json.dumps(timed(int(line))), flush=True)


if __name__ == "__main__":
    main()
