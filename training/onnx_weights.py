"""Reading trained weights back out of a shipped ONNX graph (the re-export scripts and the decoder
fine-tune rebuild torch modules from the graphs, since the checkpoints are not kept).

- `graph_initializers`: the graph and its initializers as numpy arrays, by name;
- `groupnorm_affines`: torch exports GroupNorm as Reshape → InstanceNormalization → Reshape → Mul →
  Add with anonymous constants; the (gamma, beta) of every GroupNorm, in graph order (= module order);
- `decode`: a tensor recorded in a model folder's parity.json.
"""
from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper


def graph_initializers(onnx_path: Path) -> tuple[onnx.GraphProto, dict[str, np.ndarray]]:
    graph = onnx.load(str(onnx_path)).graph
    return graph, {i.name: numpy_helper.to_array(i) for i in graph.initializer}


def consumers_of(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """The nodes reading each tensor name."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    return consumers


def groupnorm_affines(graph: onnx.GraphProto, init: dict[str, np.ndarray], name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(gamma, beta) after every InstanceNormalization of the graph, in graph order; `name` names the
    graph in errors. Raises where the nodes after it are not the Reshape/Mul/Add of torch's export."""
    consumers = consumers_of(graph)
    affine = []
    for n in graph.node:
        if n.op_type != "InstanceNormalization":
            continue
        reshape = consumers[n.output[0]][0]
        mul = consumers[reshape.output[0]][0]
        add = consumers[mul.output[0]][0]
        if (reshape.op_type, mul.op_type, add.op_type) != ("Reshape", "Mul", "Add"):
            raise ValueError(f"{name}: unexpected GroupNorm export after {n.name}")
        affine.append((init[next(i for i in mul.input if i in init)].reshape(-1), init[next(i for i in add.input if i in init)].reshape(-1)))
    return affine


def decode(record: dict) -> np.ndarray:
    """A `{dims, data}` tensor of parity.json (little-endian float32, base64)."""
    return np.frombuffer(base64.b64decode(record["data"]), dtype="<f4").reshape(record["dims"]).copy()
