"""ONNX export, parity check and manifest writing, in one call per model (MONAI's
`convert_to_onnx(verify=True)` idea): export each graph, run PyTorch and onnxruntime on the same
fixed inputs, record the max abs error, save those inputs and the PyTorch outputs next to the
model (`parity.json`) so the TypeScript tests can check onnxruntime-node without torch, then write
`manifest.json` with the sha256 of every file.
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from .config import INTENDED_USE, LABELS, CommonConfig

OPSET = 17


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def _spec(name: str, shape: list, description: str = "") -> dict:
    spec = {"name": name, "dtype": "float32", "shape": shape}
    if description:
        spec["description"] = description
    return spec


def export_graph(module: torch.nn.Module, inputs: dict[str, torch.Tensor], outputs: list[str], path: Path, dynamic: dict[str, dict[int, str]],
                 reference_module: torch.nn.Module | None = None) -> dict:
    """Exports `module(**inputs)` to `path`; returns parity record with the max abs error.

    `reference_module`: the trained module when `module` is its export form (`models.for_onnxruntime`):
    the recorded outputs and the error are then against the trained module itself."""
    import onnxruntime as ort

    module.eval()
    names = list(inputs)
    args = tuple(inputs[n] for n in names)
    with torch.no_grad():
        torch.onnx.export(
            module, args, str(path), input_names=names, output_names=outputs, dynamic_axes=dynamic, opset_version=OPSET, dynamo=False
        )
        reference = (reference_module.eval() if reference_module is not None else module)(*args)
    if isinstance(reference, torch.Tensor):
        reference = (reference,)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(outputs, {n: inputs[n].numpy() for n in names})
    errors = {o: float(np.max(np.abs(g - r.numpy()))) for o, g, r in zip(outputs, got, reference)}
    return {
        "inputs": {n: {"dims": list(inputs[n].shape), "data": _b64(inputs[n].numpy())} for n in names},
        "outputs": {o: {"dims": list(r.shape), "data": _b64(r.numpy())} for o, r in zip(outputs, reference)},
        "maxAbsErrorOnnxruntimePython": errors,
    }


def write_model(out_dir: Path, *, role: str, name: str, version: str, description: str, common: CommonConfig,
                graphs: dict[str, dict], parity: dict[str, dict], training: dict, quality: dict, extra: dict) -> Path:
    """`graphs[g] = {"file", "inputs": [spec], "outputs": [spec]}`; hashes are computed here."""
    if common.patch < 96:
        description = "DEMO model, trained for minutes on one CPU thread: " + description
    for g in graphs.values():
        g["sha256"] = sha256_file(out_dir / g["file"])
    (out_dir / "parity.json").write_text(json.dumps({"graphs": parity}))
    manifest = {
        "schemaVersion": 1,
        "name": name,
        "version": version,
        "role": role,
        "intendedUse": INTENDED_USE,
        "description": description,
        "axisOrder": "NCZYX",
        "patchSizeZyx": [common.patch] * 3,
        "spacingMm": [common.spacing_mm] * 3,
        "intensity": {"windowHu": list(common.window_hu), "range": list(common.value_range)},
        "labels": LABELS,
        "graphs": graphs,
        "training": training,
        "quality": quality,
        "parityFile": "parity.json",
        **extra,
    }
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def spec(name: str, shape: list, description: str = "") -> dict:
    return _spec(name, shape, description)


def record_parity(folder: Path, manifest: dict, graph: str, record: dict) -> None:
    """Replaces one graph's entry in a model folder's parity file (after that graph was exported again)."""
    path = folder / manifest.get("parityFile", "parity.json")
    parity = json.loads(path.read_text())
    parity["graphs"][graph] = record
    path.write_text(json.dumps(parity))
