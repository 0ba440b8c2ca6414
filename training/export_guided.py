"""Export a guided-denoiser checkpoint (`training.structured guided-denoiser`) as a dynamics model.

    training/.venv/bin/python -m training.export_guided --checkpoint CKPT --guidance W --version V --out OUT \
        [--base models/demo/dynamics]

OUT is a copy of the base dynamics folder (autoencoder and response head unchanged) whose
denoiser graph computes classifier-free guidance on the response inside the graph:
ε = ε(no response) + W·(ε(response) − ε(no response)), both halves as one doubled batch
(models.ResponseDenoiser.guidance), so the graph's inputs and outputs are those of the base and
the runtime is unchanged; each denoiser call costs about twice as much. W = 1 exports the
fine-tuned weights without guidance (the ablation). Not for clinical use.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from . import models as M
from .export import record_parity, sha256_file
from .structured import export_denoiser, log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--guidance", required=True, type=float)
    ap.add_argument("--version", required=True)
    ap.add_argument("--base", type=Path, default=Path("models/demo/dynamics"))
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    if args.guidance < 1:
        raise SystemExit("--guidance must be ≥ 1 (1 = no guidance)")
    manifest = json.loads((args.base / "manifest.json").read_text())
    C, ds = manifest["latent"]["channels"], manifest["latent"]["downsample"]
    P = manifest["patchSizeZyx"][0]
    state = torch.load(args.checkpoint)
    den = M.ResponseDenoiser(C, ch=32, cond_dim=48, downsample=ds)
    den.load_state_dict(state["denoiser"])
    den.guidance = args.guidance
    den.eval()

    out = args.out
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(args.base, out)
    spec = manifest["graphs"]["denoiser"]
    record = export_denoiser(out / spec["file"], den, C, P // ds, P, torch.Generator().manual_seed(1))
    record_parity(out, manifest, "denoiser", record)

    old_version = manifest["version"]
    config = state["config"]
    manifest["version"] = args.version
    spec["sha256"] = sha256_file(out / spec["file"])
    guided = f"classifier-free guidance on the response at scale {args.guidance:g} inside the graph (two denoiser passes per call)" if args.guidance != 1 else "no guidance (scale 1)"
    manifest["description"] = manifest["description"].split(" 0.3.1:")[0] + (
        f" {args.version}: the {old_version} denoiser fine-tuned for {state['steps']} steps with the response dropped for"
        f" {config['cond_dropout']:.0%} of the samples and the epsilon-loss weighted {config['tumour_weight']:g}x on the tumour's latent voxels"
        f" (training/structured.py guided-denoiser), exported with {guided} (training/export_guided.py). Not for clinical use."
    )
    manifest["training"]["guidedFineTune"] = {
        "from": state["from"],
        "steps": state["steps"],
        "trainCases": state["trainCases"],
        "data": state["note"],
        "condDropout": config["cond_dropout"],
        "tumourWeight": config["tumour_weight"],
        "lr": config["lr_denoiser"],
        "minutes": config["minutes_denoiser"],
        "threads": config["threads"],
        "guidanceScale": args.guidance,
        "command": f"training/.venv/bin/python -m training.structured guided-denoiser --patches PATCHES --out CKPT --minutes-denoiser {config['minutes_denoiser']:g} "
        f"--lr-denoiser {config['lr_denoiser']:g} --tumour-weight {config['tumour_weight']:g} --cond-dropout {config['cond_dropout']:g} --threads {config['threads']}"
        f" && training/.venv/bin/python -m training.export_guided --checkpoint CKPT --guidance {args.guidance:g} --version {args.version} --out OUT",
        "note": "synthetic data, not for clinical use",
    }
    manifest["training"].pop("export", None)
    if args.guidance != 1:
        manifest["action"]["guidanceScale"] = args.guidance
    else:
        manifest["action"].pop("guidanceScale", None)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(stage="manifest", path=str(out / "manifest.json"), version=args.version, sha256=spec["sha256"], guidance=args.guidance)


if __name__ == "__main__":
    main()
