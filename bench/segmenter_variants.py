"""Which export form of the assistant's segmenter onnxruntime runs fastest: the shipped weights
(rebuilt from the base graph, training/reexport_segmenter.py) exported in several forms of
models.UNet3dExport, each checked against the module, then timed on onnxruntime (Python, CPU
provider, 1 thread, batch 8 windows of 32^3) in one run:

- per-node kernel times (onnxruntime's profile, each node's minimum over `--calls` calls, so the
  machine's load does not distort it), summed by layer, for every variant side by side;
- CPU time per call (thread CPU time of the calling thread, which runs the kernels with 1
  intra-op thread), all variants round-robin, best of `--rounds`.

    training/.venv/bin/python bench/segmenter_variants.py [--base models/demo/assistant] [--base-rev d42d977]
        [--out DIR] [--batch 8] [--calls 8] [--rounds 5] [--variants a,b,...]

"shipped" is the base graph itself (default: assistant 0.2.0, the folder at git revision d42d977;
`--base-rev ''` for the folder as it is, which must then be in the 0.2.0 export form).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from training import models as M  # noqa: E402
from training.reexport_segmenter import base_at, segmenter_form, torch_segmenter  # noqa: E402

FINE = ("e1.c2", "d1.c1", "d1.c2")  # 8 -> 8 channels on the 32^3 grid
CONVS = ["e1.c1", "e1.c2", "e2.c1", "e2.c2", "e3.c1", "e3.c2", "d2.c1", "d2.c2", "d1.c1", "d1.c2"]


def variants() -> dict[str, tuple[bool, dict] | None]:
    all16 = {n: True for n in CONVS}
    coarse = {n: True for n in ("e2.c1", "e2.c2", "e3.c1", "e3.c2", "d2.c1", "d2.c2")}
    return {
        "shipped": None,
        "concat-up": (False, {}),
        "concat-up+2d": (False, all16),
        "fold": (True, {}),
        "fold+2d": (True, all16),
        "fold+2d-no-pad": (True, {n: 1 for n in CONVS}),
        "fold+2d-cin>=8": (True, {n: True for n in CONVS if n != "e1.c1"}),
        "fold+2d-cin>=16": (True, {n: True for n in ("e2.c2", "e3.c1", "e3.c2", "d2.c1", "d2.c2")}),
        "fold+2d-coarse": (True, coarse),
        "fold+coarse+slab2": (True, coarse | {n: "slab2" for n in FINE}),
        "fold+coarse+slab4": (True, coarse | {n: "slab4" for n in FINE}),
    }


def session(path: Path, profile: bool = False) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tempfile.mkdtemp(prefix="mewm-seg-profile-"), "p")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def layer_of(node: str) -> str:
    parts = [p for p in node.split("/") if p]
    if not parts:
        return node
    if parts[0] in ("e1", "e2", "e3", "d1", "d2") and len(parts) > 2 and parts[1] in ("c1", "c2", "skip", "c1_b", "up_a", "skip_a", "skip_b"):
        return f"{parts[0]}.{parts[1]}"
    return parts[0] if parts[0] in ("e1", "e2", "e3", "d1", "d2", "up", "up_1", "head") else "other"


def profile(path: Path, feeds: dict, calls: int) -> tuple[dict, dict]:
    s = session(path, profile=True)
    for _ in range(calls):
        s.run(None, feeds)
    f = s.end_profiling()
    events = json.load(open(f))
    os.remove(f)
    durations, op = collections.defaultdict(list), {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            k = e["name"][: -len("_kernel_time")]
            durations[k].append(e["dur"])
            op[k] = e["args"]["op_name"]
    mins = {k: min(v) / 1000 for k, v in durations.items()}
    by_layer, by_op = collections.defaultdict(float), collections.defaultdict(float)
    for k, v in mins.items():
        by_layer[layer_of(k)] += v
        by_op[op[k]] += v
    return dict(by_layer), dict(by_op)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, default=Path("models/demo/assistant"))
    ap.add_argument("--base-rev", default="d42d977")
    ap.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="mewm-seg-variants-")))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--calls", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--variants", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    args.base = base_at(args.base, args.base_rev or None)
    manifest = json.loads((args.base / "manifest.json").read_text())
    shipped = args.base / manifest["graphs"]["segmenter"]["file"]
    P = manifest["patchSizeZyx"][0]
    net = torch_segmenter(shipped)
    g = torch.Generator().manual_seed(0)
    x = torch.rand((args.batch, 1, P, P, P), generator=g) * 2 - 1
    with torch.no_grad():
        want = net(x).numpy()
    feeds = {"image": x.numpy()}
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = [v for v in args.variants.split(",") if v] or list(variants())
    paths: dict[str, Path] = {}
    for name in chosen:
        form = variants()[name]
        if form is None:
            paths[name] = shipped
        else:
            paths[name] = args.out / f"segmenter-{name}.onnx"
            with torch.no_grad():
                torch.onnx.export(segmenter_form(net, *form), (x[:1],), str(paths[name]), input_names=["image"], output_names=["logits"],
                                  dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
        err = float(np.max(np.abs(session(paths[name]).run(["logits"], feeds)[0] - want)))
        print(f"{name:18} max |onnxruntime - module| at batch {args.batch}: {err:.2e}", flush=True)
    print(f"onnxruntime {ort.__version__}, batch {args.batch}, 1 thread; per-node minimum kernel ms over {args.calls} calls, by layer", flush=True)
    layers, ops = {}, {}
    for name in chosen:
        layers[name], ops[name] = profile(paths[name], feeds, args.calls)
    keys = sorted({k for v in layers.values() for k in v})
    print(f"{'layer':10}" + "".join(f"{n[:16]:>17}" for n in chosen))
    for k in keys:
        print(f"{k:10}" + "".join(f"{layers[n].get(k, 0):17.2f}" for n in chosen))
    print(f"{'total':10}" + "".join(f"{sum(layers[n].values()):17.2f}" for n in chosen))
    for n in chosen:
        print(f"{n}: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(ops[n].items(), key=lambda kv: -kv[1]) if v >= 0.5))
    sessions = {n: session(paths[n]) for n in chosen}
    for s in sessions.values():
        s.run(None, feeds)
    cpu = collections.defaultdict(list)
    for _ in range(args.rounds):
        for n, s in sessions.items():
            t = time.thread_time()
            s.run(None, feeds)
            cpu[n].append(1000 * (time.thread_time() - t))
    base = min(cpu[chosen[0]])
    print(f"CPU ms per call (thread time), best of {args.rounds} round-robin rounds; speed vs {chosen[0]}")
    for n in chosen:
        print(f"  {n:18} {min(cpu[n]):8.1f} ms  median {float(np.median(cpu[n])):8.1f}  {base / min(cpu[n]):5.2f}x")


if __name__ == "__main__":
    main()
