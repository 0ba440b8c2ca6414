"""The denoiser as trained (Conv3d) and in its shipping export form (`training.models.for_onnxruntime`:
Conv3d as depth-stacked Conv2d, the upsampling convolution folded onto the low-resolution grid,
FiLM without shape arithmetic), both exported from the same weights (a model folder's denoiser,
rebuilt from its graph), checked against PyTorch, and timed in one Python run: PyTorch eager and
both graphs on onnxruntime, interleaved rounds, wall and CPU ms per call.

    training/.venv/bin/python bench/denoiser_as_2d.py [--model-dir models/demo/dynamics]
        [--batch 8] [--iterations 20] [--rounds 5] [--threads 1] [--out DIR]

`--out DIR` keeps the two .onnx files (`denoiser-3d.onnx`, `denoiser-2d.onnx`) for
`node --import tsx bench/onnx-ops.ts --model models/demo/dynamics --graph denoiser --file DIR/...`.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from training import models as M  # noqa: E402
from training.reexport_denoiser import random_inputs, torch_denoiser  # noqa: E402


def timed(fn, iterations: int) -> tuple[float, float]:
    fn()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(iterations):
        fn()
    return 1000 * (time.perf_counter() - start) / iterations, 1000 * (time.process_time() - cpu) / iterations


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default="models/demo/dynamics")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    m = json.loads((Path(args.model_dir) / "manifest.json").read_text())
    spec = m["graphs"]["denoiser"]
    C, ds, P = m["latent"]["channels"], m["latent"]["downsample"], m["patchSizeZyx"][0]
    net = torch_denoiser(Path(args.model_dir) / spec["file"], C, ds)
    inputs = random_inputs(args.batch, C, P // ds, P, seed=0)
    names = list(inputs)
    args_t = tuple(inputs.values())
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="mewm-denoiser-2d-"))
    out.mkdir(parents=True, exist_ok=True)
    dynamic = {k: {0: "batch"} for k in names + ["noise"]}
    with torch.inference_mode():
        reference = net(*args_t).numpy()
    for form, module in (("3d", net), ("2d", M.for_onnxruntime(net))):
        torch.onnx.export(module, args_t, out / f"denoiser-{form}.onnx", input_names=names, output_names=["noise"], dynamic_axes=dynamic, opset_version=17, dynamo=False)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = args.threads, 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    feeds = {k: v.numpy() for k, v in inputs.items()}
    sessions = {v: ort.InferenceSession(str(out / f"denoiser-{v}.onnx"), so, providers=["CPUExecutionProvider"]) for v in ("3d", "2d")}
    result = {"batch": args.batch, "threads": args.threads}
    for v, sess in sessions.items():
        result[f"maxAbsDiff{v.upper()}"] = float(np.abs(sess.run(["noise"], feeds)[0] - reference).max())
    rounds = {"torch": [], "3d": [], "2d": []}
    per_round = max(1, args.iterations // args.rounds)
    with torch.inference_mode():
        for _ in range(args.rounds):
            rounds["torch"].append(timed(lambda: net(*args_t), per_round))
            for v, sess in sessions.items():
                rounds[v].append(timed(lambda: sess.run(["noise"], feeds), per_round))
    best = {k: (min(r[0] for r in v), min(r[1] for r in v)) for k, v in rounds.items()}
    result.update({"bestWallCpuMs": best, "rounds": rounds})
    tw, tc = best["torch"]
    print(f"denoiser of {args.model_dir} ({m['version']}), batch {args.batch}, {args.threads} thread(s), {args.rounds} interleaved rounds of {per_round} calls; onnxruntime {ort.__version__}, torch {torch.__version__}")
    print(f"{'':44} wall ms  CPU ms  speed vs PyTorch (wall, CPU)")
    for k, label in (("torch", "PyTorch eager (Conv3d, oneDNN)"), ("3d", "onnxruntime, exported as trained (Conv3d)"), ("2d", "onnxruntime, models.for_onnxruntime form")):
        w, c = best[k]
        diff = f"  max |diff| {result['maxAbsDiff' + k.upper()]:.1e}" if k != "torch" else ""
        print(f"{label:44} {w:7.2f} {c:7.2f}  {tw / w:.2f}x, {tc / c:.2f}x{diff}")
    print(f"graphs in {out}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
