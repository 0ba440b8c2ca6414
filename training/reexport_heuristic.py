"""Re-export a shipped heuristic survival graph in onnxruntime's fast form, from its ONNX graph alone.

    training/.venv/bin/python -m training.reexport_heuristic --base models/demo/heuristic --base-rev fe78f88 \
        --out OUT --version 0.3.1 [--threads 1]

The torch checkpoint of heuristic 0.3.0 is not in the repository; its weights are all in the
graph. This rebuilds `models.MeasuredSurvivalNet` from the graph's initializers
(`reexport_segmenter.load_from_graph`: convolutions and linear layers by name, GroupNorm affines
in graph order), checks it against the shipped graph (batch 2 and 5) and the recorded parity
outputs, then exports `survival_form` (below; bench/heuristic_variants.py) into OUT, a copy of
the base folder with survival.onnx, parity.json (recorded against the rebuilt module, on the
inputs of the 0.3.0 export) and the manifest (version, sha256, description, `training.export`)
replaced. Graph input/output names and shapes are those of the base. Not for clinical use.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import torch

from . import models as M
from .export import export_graph, record_parity, sha256_file
from .onnx_weights import decode
from .reexport_segmenter import base_at, load_from_graph
from .structured import cpu_session, log

OUTPUTS = ["risk", "log_os"]


def survival_form(net: M.MeasuredSurvivalNet) -> torch.nn.Module:
    """models.for_onnxruntime (3x3x3 convolutions as depth-stacked Conv2d, the strided ones too),
    except: the first, strided 3 -> 8-channel convolution on the 32^3 crop stays a Conv3d, and the
    8 -> 8-channel ResBlock on 16^3 computes two output slices per Conv2d (Conv3dAs2dSlab)
    (bench/heuristic_variants.py: 1.5x the 0.3.0 graph; for_onnxruntime alone 1.1x)."""
    fast = M.for_onnxruntime(net)
    fast.pre_net.net[0] = net.pre_net.net[0]
    block = net.pre_net.net[3]
    fast.pre_net.net[3].c1, fast.pre_net.net[3].c2 = M.Conv3dAs2dSlab(block.c1), M.Conv3dAs2dSlab(block.c2)
    return fast


def torch_survival(onnx_path: Path) -> M.MeasuredSurvivalNet:
    init = {i.name: i for i in onnx.load(str(onnx_path)).graph.initializer}
    if "pre_net.net.0.weight" not in init or "pre_net.net.3.c1.weight" not in init:
        raise ValueError(f"{onnx_path.name}: not the 0.3.0 export form (rebuild from it: --base-rev fe78f88)")
    ch = int(init["pre_net.net.0.weight"].dims[0])
    dim = int(init["pre_net.proj.weight"].dims[0])
    return load_from_graph(M.MeasuredSurvivalNet(ch, dim), onnx_path)


def random_inputs(n: int, P: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    make = lambda: torch.cat([torch.rand((n, 1, P, P, P), generator=g) * 2 - 1, (torch.rand((n, 2, P, P, P), generator=g) > 0.6).float()], dim=1)  # noqa: E731
    return {"pre": make(), "post": make()}


def max_abs_vs_graph(net, path: Path, inputs: dict[str, torch.Tensor], threads: int) -> float:
    got = cpu_session(path, threads).run(OUTPUTS, {k: v.numpy() for k, v in inputs.items()})
    with torch.no_grad():
        want = net(*inputs.values())
    return max(float(np.max(np.abs(a - b.numpy()))) for a, b in zip(got, want))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, default=Path("models/demo/heuristic"))
    ap.add_argument("--base-rev", help="read --base at this git revision (e.g. fe78f88: heuristic 0.3.0)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--version", required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base_arg = args.base
    args.base = base_at(args.base, args.base_rev)
    manifest = json.loads((args.base / "manifest.json").read_text())
    spec = manifest["graphs"]["survival"]
    P = manifest["patchSizeZyx"][0]
    base_graph = args.base / spec["file"]
    net = torch_survival(base_graph)
    checks = {f"batch{n}": max_abs_vs_graph(net, base_graph, random_inputs(n, P, seed=n), args.threads) for n in (2, 5)}
    recorded = json.loads((args.base / manifest.get("parityFile", "parity.json")).read_text())["graphs"]["survival"]
    rec_inputs = {k: torch.from_numpy(decode(v)) for k, v in recorded["inputs"].items()}
    with torch.no_grad():
        rebuilt = net(*(rec_inputs[i["name"]] for i in spec["inputs"]))
    checks["recordedParity"] = max(float(np.max(np.abs(r.numpy() - decode(recorded["outputs"][o])))) for r, o in zip(rebuilt, OUTPUTS))
    log(stage="rebuilt", graph=str(base_graph), maxAbsVsShipped=checks)
    if max(checks.values()) > 1e-4:
        raise SystemExit(f"the survival net rebuilt in torch differs from {base_graph} by {max(checks.values())}")

    out = args.out
    if out.resolve() != args.base.resolve():
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(args.base, out)
    new_graph = out / spec["file"]
    record = export_graph(survival_form(net), rec_inputs, OUTPUTS, new_graph, {k: {0: "batch"} for k in ("pre", "post", *OUTPUTS)}, reference_module=net)
    new_checks = {f"batch{n}": max_abs_vs_graph(net, new_graph, random_inputs(n, P, seed=100 + n), args.threads) for n in (2, 5)}
    new_checks["parity"] = max(record["maxAbsErrorOnnxruntimePython"].values())
    log(stage="exported", graph=str(new_graph), maxAbsVsModule=new_checks)
    if max(new_checks.values()) > 1e-4:
        raise SystemExit(f"{new_graph} differs from the module by {max(new_checks.values())}")
    session = cpu_session(new_graph, 1)
    if [i.name for i in session.get_inputs()] != [i["name"] for i in spec["inputs"]]:
        raise SystemExit("input names changed")
    if [o.name for o in session.get_outputs()] != [o["name"] for o in spec["outputs"]]:
        raise SystemExit("output names changed")

    record_parity(out, manifest, "survival", record)
    old_version, old_sha = manifest["version"], spec["sha256"]
    manifest["version"] = args.version
    spec["sha256"] = sha256_file(new_graph)
    manifest["description"] += (
        f" {args.version}: the {old_version} weights unchanged (no retraining), the survival graph re-exported in onnxruntime's fast form"
        " (training/reexport_heuristic.py: the pre-CT CNN's 3x3x3 convolutions as depth-stacked Conv2d, two output slices per Conv2d"
        " in the 16^3 residual block, the first convolution a Conv3d) - same function to ~1e-6, faster on onnxruntime's CPU provider"
        " (docs/models.md). Not for clinical use."
    )
    manifest["training"]["export"] = {
        "weightsOf": f"{manifest['name']} {old_version}",
        "from": f"{spec['file']} sha256 {old_sha}",
        "rebuiltTorchVsShippedGraphMaxAbs": checks,
        "exportedGraphVsModuleMaxAbs": new_checks,
        "command": f"training/.venv/bin/python -m training.reexport_heuristic --base {base_arg}{f' --base-rev {args.base_rev}' if args.base_rev else ''} --out OUT --version {args.version}",
        "note": "synthetic data, not for clinical use",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(stage="manifest", path=str(out / "manifest.json"), version=args.version, sha256=spec["sha256"])


if __name__ == "__main__":
    main()
