"""Re-export a shipped assistant segmenter in onnxruntime's fast form, from its ONNX graph alone.

    training/.venv/bin/python -m training.reexport_segmenter --base models/demo/assistant --base-rev d42d977 \
        --out OUT --version 0.2.1 [--threads 1]

`--base-rev REV`: read the base folder as it is at git revision REV (assistant 0.2.0 at d42d977;
the 0.2.1 graph itself cannot be rebuilt from: its GroupNorms are no longer InstanceNormalization).

The torch checkpoint of assistant 0.2.0 is not in the repository; its weights are all in the
graph. This rebuilds `models.UNet3d` from the graph's initializers (convolutions by name;
GroupNorm affines, exported as anonymous Mul/Add constants after each InstanceNormalization, in
graph order), checks that the rebuilt module reproduces the shipped graph on onnxruntime
(batch 2 and 8) and the recorded parity outputs (≤ 1e-4; ~1e-5 in practice), then exports
`models.UNet3dExport` (FOLD, AS_2D below: both nearest x2 upsamplings folded into the decoder
blocks, no Resize; the convolutions' forms chosen by bench/segmenter_variants.py) into OUT, a
copy of the base folder with segmenter.onnx, parity.json (recorded against the rebuilt module)
and the manifest (version, sha256, description, `training.export`) replaced. Graph
input/output names and shapes are those of the base. Not for clinical use.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch

from . import models as M
from .export import export_graph, record_parity, sha256_file
from .onnx_weights import decode, graph_initializers, groupnorm_affines
from .structured import cpu_session, log

# Which 3x3x3 convolutions get which form (bench/segmenter_variants.py, batch 8, 1 thread,
# onnxruntime 1.32): on the 16^3 and 8^3 grids (8-32 channels in) the three depth taps stacked as
# a Conv2d (Conv3dAs2d, 1.9-2x faster per layer than onnxruntime's Conv3d); on the 32^3 grid
# (8 -> 8 channels) two output slices per Conv2d (Conv3dAs2dSlab: 32 inputs, 16 outputs, no zero
# padding; the 3-tap form pads 24 -> 32 and 8 -> 16 and is no faster than Conv3d there); the
# first convolution (1 -> 8 channels) stays a Conv3d.
AS_2D: dict[str, int | bool | str] = {
    "e1.c2": "slab2", "e2.c1": True, "e2.c2": True, "e3.c1": True, "e3.c2": True,
    "d2.c1": True, "d2.c2": True, "d1.c1": "slab2", "d1.c2": "slab2",
}
FOLD = True


def segmenter_form(net: M.UNet3d, fold: bool = FOLD, as_2d: dict | None = None) -> M.UNet3dExport:
    table = AS_2D if as_2d is None else as_2d
    return M.UNet3dExport(net, fold=fold, as_2d=lambda name, conv: table.get(name, False))


def load_from_graph(net: torch.nn.Module, onnx_path: Path) -> torch.nn.Module:
    """`net` with every parameter taken from the graph's initializers: by name (convolutions,
    Gemm-exported linear layers), GroupNorm affines as the anonymous Mul/Add constants after each
    InstanceNormalization, in graph order = module order. Raises if any parameter is left over."""
    graph, init = graph_initializers(onnx_path)
    state = net.state_dict()
    done: set[str] = set()

    def put(key: str, value: np.ndarray) -> None:
        if tuple(value.shape) != tuple(state[key].shape):
            raise ValueError(f"{onnx_path.name}: {key} has shape {value.shape}, the module wants {tuple(state[key].shape)}")
        state[key] = torch.from_numpy(np.array(value, dtype=np.float32))
        done.add(key)

    for key in state:
        if key in init:
            put(key, init[key])
    affine = groupnorm_affines(graph, init, onnx_path.name)
    norms = [name for name, m in net.named_modules() if isinstance(m, torch.nn.GroupNorm)]
    if len(norms) != len(affine):
        raise ValueError(f"{onnx_path.name}: {len(affine)} normalisations in the graph, {len(norms)} in the module"
                         " (rebuild from the original export form, e.g. --base-rev of the version before the re-export)")
    for name, (gamma, beta) in zip(norms, affine):
        put(f"{name}.weight", gamma)
        put(f"{name}.bias", beta)
    missing = [k for k in state if k not in done]
    if missing:
        raise ValueError(f"{onnx_path.name}: no weights found for {missing}")
    net.load_state_dict(state)
    return net.eval()


def torch_segmenter(onnx_path: Path) -> M.UNet3d:
    init = {i.name: i for i in onnx.load(str(onnx_path)).graph.initializer}
    if "e1.c1.weight" not in init:
        raise ValueError(f"{onnx_path.name}: not the 0.2.0 export form (rebuild from it: --base-rev d42d977)")
    ch = int(init["e1.c1.weight"].dims[0])
    return load_from_graph(M.UNet3d(ch, int(init["head.weight"].dims[0])), onnx_path)


def base_at(base: Path, rev: str | None) -> Path:
    """`base` itself, or a temporary copy of its files as they are at git revision `rev`."""
    if not rev:
        return base
    out = Path(tempfile.mkdtemp(prefix="mewm-model-base-")) / base.name
    out.mkdir()
    names = subprocess.run(["git", "ls-tree", "--name-only", f"{rev}:{base.as_posix()}"], check=True, capture_output=True, text=True).stdout.split()
    for name in names:
        (out / name).write_bytes(subprocess.run(["git", "show", f"{rev}:{(base / name).as_posix()}"], check=True, capture_output=True).stdout)
    return out


def random_image(n: int, P: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, 1, P, P, P), generator=g) * 2 - 1


def max_abs_vs_graph(net, path: Path, image: torch.Tensor, threads: int) -> float:
    got = cpu_session(path, threads).run(["logits"], {"image": image.numpy()})[0]
    with torch.no_grad():
        want = net(image).numpy()
    return float(np.max(np.abs(got - want)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, default=Path("models/demo/assistant"))
    ap.add_argument("--base-rev", help="read --base at this git revision (e.g. d42d977: assistant 0.2.0)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--version", required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base_arg = args.base
    args.base = base_at(args.base, args.base_rev)
    manifest = json.loads((args.base / "manifest.json").read_text())
    spec = manifest["graphs"]["segmenter"]
    P = manifest["patchSizeZyx"][0]
    base_graph = args.base / spec["file"]
    net = torch_segmenter(base_graph)
    checks = {f"batch{n}": max_abs_vs_graph(net, base_graph, random_image(n, P, seed=n), args.threads) for n in (2, 8)}
    recorded = json.loads((args.base / manifest.get("parityFile", "parity.json")).read_text())["graphs"]["segmenter"]
    with torch.no_grad():
        rebuilt = net(torch.from_numpy(decode(recorded["inputs"]["image"]))).numpy()
    checks["recordedParity"] = float(np.max(np.abs(rebuilt - decode(recorded["outputs"]["logits"]))))
    log(stage="rebuilt", graph=str(base_graph), maxAbsVsShipped=checks)
    if max(checks.values()) > 1e-4:
        raise SystemExit(f"the segmenter rebuilt in torch differs from {base_graph} by {max(checks.values())}")

    out = args.out
    if out.resolve() != args.base.resolve():
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(args.base, out)
    new_graph = out / spec["file"]
    # parity inputs as the 0.2.0 export drew them (segmenter.py: seed 2, one window)
    g = torch.Generator().manual_seed(2)
    inputs = {"image": torch.rand((1, 1, P, P, P), generator=g) * 2 - 1}
    record = export_graph(segmenter_form(net), inputs, ["logits"], new_graph, {"image": {0: "batch"}, "logits": {0: "batch"}}, reference_module=net)
    new_checks = {f"batch{n}": max_abs_vs_graph(net, new_graph, random_image(n, P, seed=100 + n), args.threads) for n in (2, 8)}
    new_checks["parity"] = record["maxAbsErrorOnnxruntimePython"]["logits"]
    log(stage="exported", graph=str(new_graph), maxAbsVsModule=new_checks)
    if max(new_checks.values()) > 1e-4:
        raise SystemExit(f"{new_graph} differs from the module by {max(new_checks.values())}")
    session = cpu_session(new_graph, 1)
    if [i.name for i in session.get_inputs()] != [i["name"] for i in spec["inputs"]]:
        raise SystemExit("input names changed")
    if [o.name for o in session.get_outputs()] != [o["name"] for o in spec["outputs"]]:
        raise SystemExit("output names changed")

    record_parity(out, manifest, "segmenter", record)
    old_version = manifest["version"]
    old_sha = spec["sha256"]
    manifest["version"] = args.version
    spec["sha256"] = sha256_file(new_graph)
    manifest["description"] += (
        f" {args.version}: the {old_version} weights unchanged (no retraining), the segmenter graph re-exported in onnxruntime's fast form"
        " (training/reexport_segmenter.py, models.UNet3dExport: both nearest x2 upsamplings folded into the decoder blocks' first"
        " convolution on the coarse grid, no Resize, GroupNorm statistics of the concatenation from both parts; 3x3x3 convolutions as"
        " depth-stacked Conv2d, two output slices per Conv2d on the 32^3 grid) - same function to ~1e-5,"
        " faster on onnxruntime's CPU provider (docs/models.md). Not for clinical use."
    )
    manifest["training"]["export"] = {
        "weightsOf": f"{manifest['name']} {old_version}",
        "from": f"{spec['file']} sha256 {old_sha}",
        "form": {"foldUpsampling": FOLD, "convsAsDepthStacked2d": AS_2D},
        "rebuiltTorchVsShippedGraphMaxAbs": checks,
        "exportedGraphVsModuleMaxAbs": new_checks,
        "command": f"training/.venv/bin/python -m training.reexport_segmenter --base {base_arg}{f' --base-rev {args.base_rev}' if args.base_rev else ''} --out OUT --version {args.version}",
        "note": "synthetic data, not for clinical use",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(stage="manifest", path=str(out / "manifest.json"), version=args.version, sha256=spec["sha256"])


if __name__ == "__main__":
    main()
