"""Why onnxruntime runs our 3D networks slower than PyTorch eager: one Conv3d layer (3x3x3,
padding 1) at the shapes of the demo models, timed in the same process with PyTorch eager
(oneDNN on, and off = PyTorch's own im2col path) and with onnxruntime's CPU provider (same
weights, exported by torch.onnx), plus the same layer written as three Conv2d over depth
(what onnxruntime's NCHWc 2D kernels could run). Prints ms per call and ratios.

    training/.venv/bin/python bench/conv3d_ort_vs_torch.py [--threads 1] [--iterations 20]
"""
from __future__ import annotations

import argparse
import io
import json
import time

import numpy as np
import onnxruntime as ort
import torch

SHAPES = [
    # (what, batch, cin, cout, size)
    ("denoiser level 1 (32ch, 8^3)", 8, 32, 32, 8),
    ("denoiser level 2 (64ch, 4^3)", 8, 64, 64, 4),
    ("segmenter level 1 (8ch, 32^3)", 8, 8, 8, 32),
    ("segmenter decoder (24->8ch, 32^3)", 8, 24, 8, 32),
    ("segmenter level 2 (16ch, 16^3)", 8, 16, 16, 16),
]


class Conv3dAs2d(torch.nn.Module):
    """The same 3x3x3 convolution as Conv2d (3x3) over depth slices with the three depth taps
    stacked as input channels: the layout onnxruntime's NCHWc 2D kernels accept."""

    def __init__(self, conv: torch.nn.Conv3d):
        super().__init__()
        w = conv.weight.detach()  # [out, in, kz, ky, kx]
        out, cin = w.shape[:2]
        self.cin = cin
        self.conv2d = torch.nn.Conv2d(3 * cin, out, 3, padding=1)
        with torch.no_grad():
            self.conv2d.weight.copy_(w.permute(0, 2, 1, 3, 4).reshape(out, 3 * cin, 3, 3))
            self.conv2d.bias.copy_(conv.bias.detach())

    def forward(self, x):
        n, c, d, h, w = x.shape
        p = torch.nn.functional.pad(x, (0, 0, 0, 0, 1, 1))
        stacked = torch.cat([p[:, :, 0:d], p[:, :, 1 : d + 1], p[:, :, 2 : d + 2]], dim=1)  # [n, 3c, d, h, w]
        y = self.conv2d(stacked.transpose(1, 2).reshape(n * d, 3 * c, h, w))
        return y.reshape(n, d, -1, h, w).transpose(1, 2)


def timed(fn, iterations: int) -> float:
    for _ in range(3):
        fn()
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return 1000 * (time.perf_counter() - start) / iterations


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iterations", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    rows = []
    for what, n, cin, cout, s in SHAPES:
        torch.manual_seed(0)
        conv = torch.nn.Conv3d(cin, cout, 3, padding=1).eval()
        x = torch.randn(n, cin, s, s, s)
        buf = io.BytesIO()
        torch.onnx.export(conv, (x,), buf, input_names=["x"], output_names=["y"], opset_version=17, dynamo=False)
        sess = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
        buf2 = io.BytesIO()
        torch.onnx.export(Conv3dAs2d(conv).eval(), (x,), buf2, input_names=["x"], output_names=["y"], opset_version=17, dynamo=False)
        sess2d = ort.InferenceSession(buf2.getvalue(), so, providers=["CPUExecutionProvider"])
        xn = x.numpy()
        with torch.inference_mode():
            torch.backends.mkldnn.enabled = True
            t_dnn = timed(lambda: conv(x), args.iterations)
            torch.backends.mkldnn.enabled = False
            t_nodnn = timed(lambda: conv(x), args.iterations)
            torch.backends.mkldnn.enabled = True
            ref = conv(x).numpy()
        t_ort = timed(lambda: sess.run(["y"], {"x": xn}), args.iterations)
        t_ort2d = timed(lambda: sess2d.run(["y"], {"x": xn}), args.iterations)
        diff = float(np.abs(sess.run(["y"], {"x": xn})[0] - ref).max())
        diff2d = float(np.abs(sess2d.run(["y"], {"x": xn})[0] - ref).max())
        gflop = 2 * n * cout * cin * 27 * s**3 / 1e9
        rows.append({"layer": what, "gflop": round(gflop, 3), "torch_onednn_ms": round(t_dnn, 2), "torch_no_onednn_ms": round(t_nodnn, 2), "ort_ms": round(t_ort, 2), "ort_as_2d_ms": round(t_ort2d, 2), "max_abs_diff": diff, "max_abs_diff_2d": diff2d})
    print(f"onnxruntime {ort.__version__}, torch {torch.__version__}, {args.threads} thread(s), {args.iterations} calls")
    print(f"{'layer':36} {'GFLOP':>6} {'torch oneDNN':>13} {'torch no-oneDNN':>16} {'onnxruntime':>12} {'ort as 2D':>10} {'ort/oneDNN':>11} {'ort2D/oneDNN':>13}")
    for r in rows:
        print(f"{r['layer']:36} {r['gflop']:6.2f} {r['torch_onednn_ms']:11.2f}ms {r['torch_no_onednn_ms']:14.2f}ms {r['ort_ms']:10.2f}ms {r['ort_as_2d_ms']:8.2f}ms {r['ort_ms'] / r['torch_onednn_ms']:10.2f}x {r['ort_as_2d_ms'] / r['torch_onednn_ms']:12.2f}x")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
