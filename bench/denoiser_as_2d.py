"""The denoiser with its 3x3x3 stride-1 convolutions exported as depth-stacked Conv2d
(`Conv3dAs2d` of bench/conv3d_ort_vs_torch.py): same function, onnxruntime's fast 2D kernels.
Builds the architecture of a model folder's manifest (random weights: they do not change the
cost), exports it twice (as trained: Conv3d; rewritten: Conv2d over depth), checks that both
graphs agree, and times PyTorch eager and both graphs on onnxruntime in one run.

    training/.venv/bin/python bench/denoiser_as_2d.py [--model-dir models/demo/dynamics]
        [--batch 8] [--iterations 20] [--rounds 5] [--threads 2] [--out DIR]

`--out DIR` keeps the two .onnx files (`denoiser-3d.onnx`, `denoiser-2d.onnx`) for
`bench/onnx-ops.ts --file` (onnxruntime-node).
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from training.models import ActionEncoder, LatentDenoiser  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conv3d_ort_vs_torch import Conv3dAs2d  # noqa: E402


def swap_convs(module: torch.nn.Module) -> int:
    swapped = 0
    for name, child in module.named_children():
        if isinstance(child, torch.nn.Conv3d) and child.kernel_size == (3, 3, 3) and child.stride == (1, 1, 1) and child.padding == (1, 1, 1) and child.groups == 1:
            setattr(module, name, Conv3dAs2d(child))
            swapped += 1
        else:
            swapped += swap_convs(child)
    return swapped


def timed(fn, iterations: int) -> float:
    for _ in range(3):
        fn()
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return 1000 * (time.perf_counter() - start) / iterations


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default="models/demo/dynamics")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    m = json.loads((Path(args.model_dir) / "manifest.json").read_text())
    cfg = m["training"]["config"]
    P, C = m["patchSizeZyx"][0], m["latent"]["channels"]
    p = P // m["latent"]["downsample"]
    A, H = len(m["action"]["agents"]), m["action"]["maxAgents"]
    action = ActionEncoder(A, cfg["text_dim"], H, cfg["action_dim"], cfg["action_text"])
    net = LatentDenoiser(C, cfg["denoiser_channels"], action, cfg["action_dim"], m["latent"]["downsample"]).eval()
    n = args.batch
    names = ["noisy_latent", "timestep", "masked_latent", "mask", "action_concepts", "action_text", "action_text_mask"]
    inputs = (torch.randn(n, C, p, p, p), torch.full((n,), 500.0), torch.randn(n, C, p, p, p), torch.rand(n, 1, P, P, P), torch.zeros(n, A), torch.randn(n, H, cfg["text_dim"]), torch.ones(n, H))
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="mewm-denoiser-2d-"))
    out.mkdir(parents=True, exist_ok=True)
    dynamic = {k: {0: "batch"} for k in names + ["noise"]}
    with torch.inference_mode():
        reference = net(*inputs).numpy()
    net_eager = copy.deepcopy(net)  # timed as trained (Conv3d); `net` gets the rewritten convs
    torch.onnx.export(net, inputs, out / "denoiser-3d.onnx", input_names=names, output_names=["noise"], dynamic_axes=dynamic, opset_version=17, dynamo=False)
    swapped = swap_convs(net)
    torch.onnx.export(net, inputs, out / "denoiser-2d.onnx", input_names=names, output_names=["noise"], dynamic_axes=dynamic, opset_version=17, dynamo=False)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = args.threads, 1
    feeds = {k: v.numpy() for k, v in zip(names, inputs)}
    sessions = {v: ort.InferenceSession(str(out / f"denoiser-{v}.onnx"), so, providers=["CPUExecutionProvider"]) for v in ("3d", "2d")}
    result = {"batch": n, "threads": args.threads, "swappedConvs": swapped}
    for v, sess in sessions.items():
        result[f"maxAbsDiff{v.upper()}"] = float(np.abs(sess.run(["noise"], feeds)[0] - reference).max())
    # Round-robin rounds, best round per variant: the load of a shared machine changes by the second.
    rounds = {"torch": [], "3d": [], "2d": []}
    per_round = max(1, args.iterations // args.rounds)
    with torch.inference_mode():
        for _ in range(args.rounds):
            rounds["torch"].append(timed(lambda: net_eager(*inputs), per_round))
            for v, sess in sessions.items():
                rounds[v].append(timed(lambda: sess.run(["noise"], feeds), per_round))
    torch_ms = min(rounds["torch"])
    result.update({"torchMs": torch_ms, "ort3DMs": min(rounds["3d"]), "ort2DMs": min(rounds["2d"]), "rounds": rounds})
    print(f"denoiser architecture of {args.model_dir} (random weights), batch {n}, {args.threads} thread(s), {args.iterations} calls; onnxruntime {ort.__version__}, torch {torch.__version__}")
    print(f"PyTorch eager:                               {torch_ms:7.2f} ms/call  (best of {args.rounds} rounds)")
    print(f"onnxruntime, Conv3d as exported:             {result['ort3DMs']:7.2f} ms/call  {torch_ms / result['ort3DMs']:.2f}x PyTorch's speed  (max |diff| {result['maxAbsDiff3D']:.1e})")
    print(f"onnxruntime, {swapped} Conv3d as depth-stacked Conv2d: {result['ort2DMs']:7.2f} ms/call  {torch_ms / result['ort2DMs']:.2f}x PyTorch's speed  (max |diff| {result['maxAbsDiff2D']:.1e})")
    print(f"graphs in {out}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
