"""Re-export a shipped dynamics denoiser in the current export form, from its ONNX graph alone.

    training/.venv/bin/python -m training.reexport_denoiser --base models/demo/dynamics --out OUT \
        --version 0.3.1 [--threads 1]

The torch checkpoint of a shipped model may be gone; its weights are all in the graph. This
rebuilds `models.ResponseDenoiser` from the graph's initializers (Conv3d weights also from the
depth-stacked Conv2d form of 0.3.0 and from the phase-folded upsampling convolution of 0.3.1; GroupNorm affines, exported as anonymous Mul/Add constants
after each InstanceNormalization, in graph order; the attention projections, exported as
MatMul with anonymous transposed weights, by the named bias that follows them), checks that the
rebuilt module reproduces the shipped graph on onnxruntime (batch 2 and 8, ≤ 1e-4; ~1e-6 in
practice), then exports it through the shipping path (`structured.export_denoiser`: the
onnxruntime form of `models.for_onnxruntime`, parity against the module) into OUT, a copy of the
base folder with denoiser.onnx, parity.json and the manifest (version, sha256, description,
`training.export`) replaced. Graph input/output names and shapes are those of the base.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from . import models as M
from .export import record_parity, sha256_file
from .onnx_weights import consumers_of, decode, graph_initializers, groupnorm_affines
from .structured import cpu_session, export_denoiser, log


def torch_denoiser(onnx_path: Path, latent: int, downsample: int) -> M.ResponseDenoiser:
    graph, init = graph_initializers(onnx_path)
    conv_in = init.get("inp.weight", init.get("inp.conv2d.weight"))
    ch = conv_in.shape[0]
    cond_dim = init["time.0.weight"].shape[1]
    den = M.ResponseDenoiser(latent, ch=ch, cond_dim=cond_dim, downsample=downsample)
    state = den.state_dict()
    done: set[str] = set()

    def put(key: str, value: np.ndarray) -> None:
        if tuple(value.shape) != tuple(state[key].shape):
            raise ValueError(f"{onnx_path.name}: {key} has shape {value.shape}, the module wants {tuple(state[key].shape)}")
        state[key] = torch.from_numpy(np.array(value, dtype=np.float32))
        done.add(key)

    for key in state:
        module, leaf = key.rsplit(".", 1)
        if key in init:
            put(key, init[key])
        elif f"{module}.conv2d.{leaf}" in init:  # depth-stacked Conv2d form: [out, 3*cin (+ zero pad), 3, 3]
            v = init[f"{module}.conv2d.{leaf}"]
            if leaf == "weight":
                out, cin = state[key].shape[:2]
                v = v[:, : 3 * cin].reshape(out, 3, cin, 3, 3).transpose(0, 2, 1, 3, 4)
            put(key, v)
        elif f"{module}.convs.0.{leaf}" in init:  # UpConv3dAs2d form: the 3-tap kernel folded into 8 phases
            parts = [init[f"{module}.convs.{a}.{leaf}"] for a in range(2 if leaf == "weight" else 1)]  # equal biases are stored once
            put(key, unfold_up_conv(parts, tuple(state[key].shape)))
    consumers = consumers_of(graph)
    # attention projections: MatMul(x, W^T anonymous) -> Add(named bias)
    for n in graph.node:
        if n.op_type != "MatMul" or n.input[1] not in init:
            continue
        add = consumers[n.output[0]][0]
        bias = next(i for i in add.input if i in init)
        put(bias[: -len(".bias")] + ".weight", init[n.input[1]].T)
    # GroupNorm affines, in graph order = module order
    affine = groupnorm_affines(graph, init, onnx_path.name)
    norms = [name for name, m in den.named_modules() if isinstance(m, torch.nn.GroupNorm)]
    if len(norms) != len(affine):
        raise ValueError(f"{onnx_path.name}: {len(affine)} normalisations in the graph, {len(norms)} in the module")
    for name, (gamma, beta) in zip(norms, affine):
        put(f"{name}.weight", gamma)
        put(f"{name}.bias", beta)
    missing = [k for k in state if k not in done]
    if missing:
        raise ValueError(f"{onnx_path.name}: no weights found for {missing}")
    den.load_state_dict(state)
    return den.eval()


def unfold_up_conv(parts: list[np.ndarray], shape: tuple) -> np.ndarray:
    """The Conv3d weight [o, i, 3, 3, 3] (or bias [o]) back from UpConv3dAs2d's two Conv2d: the
    folding is linear and injective (per axis [k0, k1+k2, k0+k1, k2] determines k0, k1, k2), so
    least squares recovers it exactly up to rounding."""
    if len(shape) == 1:
        return parts[0][: shape[0]]
    out, cin = shape[:2]
    f = M.UpConv3dAs2d.FOLD.double().numpy()
    # folded[a, b, c, o, j1, i, j2, j3] = sum_k F[a, j1, k1] F[b, j2, k2] F[c, j3, k3] w[o, i, k1, k2, k3]
    folded = np.stack([p.reshape(2, 2, out, 2, cin, 2, 2) for p in parts]).astype(np.float64)
    lhs = np.einsum("axp,bqr,cst->abcxqsprt", f, f, f).reshape(64, 27)  # (phases, 2-taps) x 3-taps
    rhs = folded.transpose(0, 1, 2, 4, 6, 7, 3, 5).reshape(64, out * cin)
    w = np.linalg.lstsq(lhs, rhs, rcond=None)[0]  # [27, o * i]
    return w.reshape(3, 3, 3, out, cin).transpose(3, 4, 0, 1, 2)


def random_inputs(n: int, C: int, p: int, P: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shares = torch.softmax(torch.randn((n, 3), generator=g), dim=1)
    return {
        "noisy_latent": torch.randn((n, C, p, p, p), generator=g),
        "timestep": torch.randint(0, 1000, (n,), generator=g).float(),
        "masked_latent": torch.randn((n, C, p, p, p), generator=g),
        "mask": (torch.rand((n, 1, P, P, P), generator=g) > 0.6).float(),
        "response": torch.cat([0.4 + 0.8 * torch.rand((n, 1), generator=g), shares, -20 * torch.rand((n, 1), generator=g)], dim=1),
    }


def max_abs_vs_graph(den, path: Path, inputs: dict[str, torch.Tensor], threads: int) -> float:
    got = cpu_session(path, threads).run(["noise"], {k: v.numpy() for k, v in inputs.items()})[0]
    with torch.no_grad():
        want = den(*inputs.values()).numpy()
    return float(np.max(np.abs(got - want)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, default=Path("models/demo/dynamics"))
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--version", required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    manifest = json.loads((args.base / "manifest.json").read_text())
    C, ds = manifest["latent"]["channels"], manifest["latent"]["downsample"]
    P = manifest["patchSizeZyx"][0]
    p = P // ds
    spec = manifest["graphs"]["denoiser"]
    base_graph = args.base / spec["file"]
    den = torch_denoiser(base_graph, C, ds)
    checks = {f"batch{n}": max_abs_vs_graph(den, base_graph, random_inputs(n, C, p, P, seed=n), args.threads) for n in (2, 8)}
    parity_path = args.base / manifest.get("parityFile", "parity.json")
    recorded = json.loads(parity_path.read_text())["graphs"]["denoiser"]
    rec_inputs = {k: torch.from_numpy(decode(v)) for k, v in recorded["inputs"].items()}
    with torch.no_grad():
        rebuilt = den(*(rec_inputs[i["name"]] for i in spec["inputs"])).numpy()
    o = recorded["outputs"]["noise"]
    checks["recordedParity"] = float(np.max(np.abs(rebuilt - decode(o))))
    log(stage="rebuilt", graph=str(base_graph), maxAbsVsShipped=checks)
    if max(checks.values()) > 1e-4:
        raise SystemExit(f"the denoiser rebuilt in torch differs from {base_graph} by {max(checks.values())}")

    out = args.out
    if out.resolve() != args.base.resolve():
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(args.base, out)
    g = torch.Generator().manual_seed(1)
    record = export_denoiser(out / spec["file"], den, C, p, P, g)
    new_checks = {f"batch{n}": max_abs_vs_graph(den, out / spec["file"], random_inputs(n, C, p, P, seed=100 + n), args.threads) for n in (2, 8)}
    log(stage="exported", graph=str(out / spec["file"]), maxAbsVsModule=new_checks)
    session = cpu_session(out / spec["file"], 1)
    for want, got in zip(spec["inputs"], session.get_inputs()):
        if want["name"] != got.name:
            raise SystemExit(f"input {got.name} where the manifest has {want['name']}")
    if [o.name for o in session.get_outputs()] != [o["name"] for o in spec["outputs"]]:
        raise SystemExit("output names changed")

    record_parity(out, manifest, "denoiser", record)
    old_version = manifest["version"]
    manifest["version"] = args.version
    spec["sha256"] = sha256_file(out / spec["file"])
    manifest["description"] += (
        f" {args.version}: the {old_version} weights unchanged (no retraining), the denoiser graph re-exported in onnxruntime's fast form"
        " (training/reexport_denoiser.py, models.for_onnxruntime: every 3x3x3 Conv3d as depth-stacked Conv2d, the strided one too,"
        " the upsampling one folded onto the low-resolution grid; FiLM without shape arithmetic) - same function to ~1e-5,"
        " faster on onnxruntime's CPU provider (docs/performance.md). Not for clinical use."
    )
    manifest["training"]["export"] = {
        "weightsOf": f"{manifest['name']} {old_version}",
        "from": f"{spec['file']} sha256 {json.loads((args.base / 'manifest.json').read_text())['graphs']['denoiser']['sha256']}",
        "rebuiltTorchVsShippedGraphMaxAbs": checks,
        "exportedGraphVsModuleMaxAbs": dict(new_checks, parity=record["maxAbsErrorOnnxruntimePython"]["noise"]),
        "command": f"training/.venv/bin/python -m training.reexport_denoiser --base {args.base} --out OUT --version {args.version}",
        "note": "synthetic data, not for clinical use",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(stage="manifest", path=str(out / "manifest.json"), version=args.version, sha256=spec["sha256"])


if __name__ == "__main__":
    main()
