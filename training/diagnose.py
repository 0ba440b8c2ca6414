"""Where a dynamics checkpoint loses the tumour composition, on the held-out (val + test) cases:

  python -m training.diagnose CHECKPOINT.pt --cohort DIR [--limit N]

For each case, on the model grid (tumour-centred patch) and the pre-treatment tumour region: the
viable / Lipiodol / necrosis shares (HU bands of `train.fractions`) of the true post-CT, of
decode(encode(true post-CT)) (what the decoder can show at best) and of the DDIM-20 simulation
under the case's own protocol (mean of 3 replicas). Prints Spearman correlations and mean shares
as JSON; the world's viable ratio comes from truth.jsonl.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from . import metrics
from . import train as T
from .config import CommonConfig, DynamicsConfig
from .data import load_cohort, prepare
from .models import ActionEncoder, KLAutoencoder, LatentDenoiser, ScaledDecoder, ScaledEncoder

KEYS = ("viable", "lipiodol", "necrosis")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m training.diagnose", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--cohort", required=True)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    saved = torch.load(args.checkpoint, weights_only=False)
    fields = {k: v for k, v in saved["config"].items() if k != "common"}
    common = CommonConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved["config"]["common"].items()})
    cfg = DynamicsConfig(common=common, **fields)
    coder = T.ActionCoder(cfg.text_dim, cfg.max_agents)
    ae = KLAutoencoder(cfg.ae_channels, cfg.latent_channels, cfg.downsample)
    ae.load_state_dict(saved["autoencoder"])
    net = LatentDenoiser(cfg.latent_channels, cfg.denoiser_channels, ActionEncoder(len(coder.ids), cfg.text_dim, cfg.max_agents, cfg.action_dim, cfg.action_text), cfg.action_dim, cfg.downsample)
    net.load_state_dict(saved["denoiser"])
    ae.eval(), net.eval()
    enc, dec = ScaledEncoder(ae), ScaledDecoder(ae)
    cases = [c for c in prepare(load_cohort(args.cohort), common) if c.split != "train"][: args.limit]
    P = common.patch
    g = torch.Generator().manual_seed(common.seed)
    rows = []
    with torch.no_grad():
        for cs, lat in zip(cases, T.encode_cases(ae, cases, P)):
            region = T.tumour_mask(T.centre(cs.pre_labels, P))
            post = T.centre(cs.post, P)
            recon = dec(enc(torch.from_numpy(post)[None, None])).numpy()[0, 0]
            zm, m = lat.masked[0]
            z = T.ddim_sample(net, cfg, zm[None].repeat(3, 1, 1, 1, 1), m[None].repeat(3, 1, 1, 1, 1), [cs.agents] * 3, coder, 20, g)
            sims = [T.fractions(x, region, common) for x in dec(z).numpy()[:, 0]]
            rows.append({
                "world": (cs.truth or {}).get("viableRatio", float("nan")),
                "true": T.fractions(post, region, common),
                "reconstructed": T.fractions(recon, region, common),
                "simulated": {k: float(np.mean([s[k] for s in sims])) for k in KEYS},
            })
    col = lambda kind, k: [r[kind][k] for r in rows]  # noqa: E731
    report = {
        "checkpoint": args.checkpoint,
        "cases": len(rows),
        "meanShares": {kind: {k: round(float(np.mean(col(kind, k))), 3) for k in KEYS} for kind in ("true", "reconstructed", "simulated")},
        "spearmanReconstructedVsTrue": {k: T.finite(metrics.spearman(col("reconstructed", k), col("true", k))) for k in KEYS},
        "spearmanSimulatedVsTrue": {k: T.finite(metrics.spearman(col("simulated", k), col("true", k))) for k in KEYS},
        "spearmanViableVsWorldViableRatio": {
            "true": T.finite(metrics.spearman(col("true", "viable"), [r["world"] for r in rows])),
            "simulated": T.finite(metrics.spearman(col("simulated", "viable"), [r["world"] for r in rows])),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
