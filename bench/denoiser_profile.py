"""Per-operator profile of a denoiser graph on onnxruntime (Python, CPU provider, 1 thread) that a
loaded machine does not distort: onnxruntime's own per-node kernel times over `--calls` calls, the
minimum of each node kept (a node preempted in one call is not in another), summed by operator.
bench/onnx-ops.ts --ops sums all calls (wall time), which is right on an idle machine only.

    training/.venv/bin/python bench/denoiser_profile.py GRAPH.onnx [GRAPH2.onnx ...] [--batch 8] [--calls 30] [--top 0]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile

import numpy as np
import onnxruntime as ort


def profile(path: str, batch: int, calls: int, top: int) -> None:
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(prefix="mewm-denoiser-profile-"), "p")
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for i in s.get_inputs():
        shape = [batch if not isinstance(d, int) else d for d in i.shape]
        feeds[i.name] = np.full(shape, 500, np.float32) if i.name == "timestep" else rng.random(shape, dtype=np.float32)
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
    total = sum(mins.values())
    by_op = collections.defaultdict(float)
    for k, v in mins.items():
        by_op[op[k]] += v
    print(f"{path}: batch {batch}, onnxruntime {ort.__version__}, {len(mins)} nodes after optimisation, sum of per-node minimum kernel times {total:.2f} ms/call")
    for k, v in sorted(by_op.items(), key=lambda x: -x[1]):
        if v >= 0.005:
            print(f"  {k:24} {v:7.2f} ms {100 * v / total:5.1f} %")
    for k, v in sorted(mins.items(), key=lambda x: -x[1])[:top]:
        print(f"  {k:64} {v:7.3f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("graphs", nargs="+")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--top", type=int, default=0)
    args = ap.parse_args()
    for g in args.graphs:
        profile(g, args.batch, args.calls, args.top)


if __name__ == "__main__":
    main()
