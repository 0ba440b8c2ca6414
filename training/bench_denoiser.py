"""PyTorch-eager side of bench/denoiser.ts: times the dynamics denoiser built from a model
folder's manifest config (same architecture and batch; weights do not change the cost).
Prints one JSON line: {"msPerCall": ..., "batch": ..., "threads": ...}."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from .models import ActionEncoder, LatentDenoiser


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    m = json.loads((Path(args.model_dir) / "manifest.json").read_text())
    cfg = m["training"]["config"]
    P = m["patchSizeZyx"][0]
    C = m["latent"]["channels"]
    p = P // m["latent"]["downsample"]
    A = len(m["action"]["agents"])
    H = m["action"]["maxAgents"]
    action = ActionEncoder(A, cfg["text_dim"], H, cfg["action_dim"], cfg["action_text"])
    net = LatentDenoiser(C, cfg["denoiser_channels"], action, cfg["action_dim"], m["latent"]["downsample"]).eval()
    n = args.batch
    inputs = (
        torch.randn(n, C, p, p, p), torch.full((n,), 500.0), torch.randn(n, C, p, p, p), torch.rand(n, 1, P, P, P),
        torch.zeros(n, A), torch.randn(n, H, cfg["text_dim"]), torch.ones(n, H),
    )
    with torch.inference_mode():
        for _ in range(3):
            net(*inputs)
        start = time.perf_counter()
        for _ in range(args.iterations):
            net(*inputs)
        elapsed = time.perf_counter() - start
    print(json.dumps({"msPerCall": 1000 * elapsed / args.iterations, "batch": n, "threads": args.threads}))


if __name__ == "__main__":
    main()
