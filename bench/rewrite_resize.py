"""Rewrites every nearest-neighbour ×2 `Resize` of an ONNX graph (what torch exports for
`nn.Upsample(scale_factor=2, mode="nearest")`) as Reshape → Expand → Reshape: the same values
bit for bit (each voxel repeated 2×2×2), without onnxruntime's generic 5-D Resize kernel.
Checks the outputs are identical on random inputs, writes the rewritten graph.

    training/.venv/bin/python bench/rewrite_resize.py IN.onnx OUT.onnx

Time it against the original with `bench/onnx-ops.ts --file OUT.onnx`.
"""
from __future__ import annotations

import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper


def main(src: str, dst: str) -> None:
    model = onnx.load(src)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consts = {n.output[0]: n for n in g.node if n.op_type == "Constant"}

    def const_value(name: str):
        if name in inits:
            return numpy_helper.to_array(inits[name])
        if name in consts:
            return numpy_helper.to_array(consts[name].attribute[0].t)
        return None

    nodes, rewritten = [], 0
    for node in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        scales = const_value(node.input[2]) if node.op_type == "Resize" and len(node.input) > 2 and node.input[2] else None
        if node.op_type == "Resize" and attrs.get("mode") == b"nearest" and scales is not None and len(scales) == 5 and list(scales) == [1, 1, 2, 2, 2]:
            x, y, p = node.input[0], node.output[0], f"resize2x_{rewritten}"
            nodes += [
                helper.make_node("Shape", [x], [f"{p}_shape"]),
                helper.make_node("Unsqueeze", [x, f"{p}_axes"], [f"{p}_u"]),  # [N, C, D, 1, H, 1, W, 1]
                helper.make_node("Gather", [f"{p}_shape", f"{p}_order"], [f"{p}_gathered"], axis=0),
                helper.make_node("Mul", [f"{p}_gathered", f"{p}_mask"], [f"{p}_masked"]),
                helper.make_node("Add", [f"{p}_masked", f"{p}_twos8"], [f"{p}_expand_shape"]),  # [N, C, D, 2, H, 2, W, 2]
                helper.make_node("Expand", [f"{p}_u", f"{p}_expand_shape"], [f"{p}_e"]),
                helper.make_node("Mul", [f"{p}_shape", f"{p}_scale"], [f"{p}_out_shape"]),  # [N, C, 2D, 2H, 2W]
                helper.make_node("Reshape", [f"{p}_e", f"{p}_out_shape"], [y]),
            ]
            g.initializer.extend([
                numpy_helper.from_array(np.array([3, 5, 7], dtype=np.int64), f"{p}_axes"),
                numpy_helper.from_array(np.array([0, 1, 2, 0, 3, 0, 4, 0], dtype=np.int64), f"{p}_order"),
                numpy_helper.from_array(np.array([1, 1, 1, 0, 1, 0, 1, 0], dtype=np.int64), f"{p}_mask"),
                numpy_helper.from_array(np.array([0, 0, 0, 2, 0, 2, 0, 2], dtype=np.int64), f"{p}_twos8"),
                numpy_helper.from_array(np.array([1, 1, 2, 2, 2], dtype=np.int64), f"{p}_scale"),
            ])
            rewritten += 1
        else:
            nodes.append(node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    a = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(dst, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for i in a.get_inputs():
        shape = [2 if not isinstance(d, int) else d for d in i.shape]
        feeds[i.name] = (rng.random(shape, dtype=np.float32) * 2 - 1) if i.name != "timestep" else np.full(shape, 500, np.float32)
    same = all(np.array_equal(x, y) for x, y in zip(a.run(None, feeds), b.run(None, feeds)))
    print(f"{src}: {rewritten} Resize node(s) rewritten as Reshape/Expand -> {dst}; outputs identical: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
