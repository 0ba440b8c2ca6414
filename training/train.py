"""Train, evaluate and export the learned models of mewm.

  python -m training.train dynamics|assistant|heuristic|all --cohort DIR --out models/demo
  python -m training.train all --standin 48 --out /tmp/smoke --fast     # smoke run, no cohort

Each model: seeded, metrics logged (JSON lines to stdout and `<out>/<role>/train-log.jsonl`),
frozen config saved in the checkpoint and the manifest, ONNX export + parity check, held-out
quality written into the manifest. Ablations: --no-attenuation, --no-contrastive, --no-action-text.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import metrics
from .attenuation import attenuate, dilate
from .config import AssistantConfig, CommonConfig, DynamicsConfig, HeuristicConfig, paper_size, to_dict
from .data import PreparedCase, load_cohort, prepare, random_patch, split, synthetic_standin_cohort
from .export import export_graph, sha256_file, spec, write_model
from .models import KLAutoencoder, ActionEncoder, LatentDenoiser, ScaledDecoder, ScaledEncoder, SurvivalNet, UNet3d
from .text_features import load_vocabulary, text_feature_table

# HU bands of the world's post-treatment lesion (src/world/response.ts POST_TUMOUR_HU): voxels of the
# pre-treatment tumour below `viable_min` are necrosis, at or above `lipiodol_min` lipiodol.
VIABLE_MIN_HU = 55.0
LIPIODOL_MIN_HU = 250.0


class Logger:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("w")
        self.start = time.time()

    def __call__(self, **record):
        record = {"elapsedS": round(time.time() - self.start, 1), **record}
        line = json.dumps(record)
        print(line, flush=True)
        self.file.write(line + "\n")
        self.file.flush()


def finite(x: float, digits: int = 3) -> float | None:
    """Rounded, or None where undefined (JSON has no NaN)."""
    return round(x, digits) if math.isfinite(x) else None


def seed_everything(seed: int, threads: int):
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------
# Action inputs (Eq. 1)


class ActionCoder:
    """Turns an agent list into the denoiser's action tensors, from the bundled text table."""

    def __init__(self, text_dim: int, max_agents: int):
        self.vocab = load_vocabulary()
        self.ids = [a["id"] for a in self.vocab]
        self.table = text_feature_table(text_dim, self.vocab)
        self.max_agents = max_agents
        self.text_dim = text_dim

    def encode(self, agents: list[str]):
        concepts = np.zeros(len(self.ids), np.float32)
        text = np.zeros((self.max_agents, self.text_dim), np.float32)
        mask = np.zeros(self.max_agents, np.float32)
        ordered = [a for a in self.ids if a in agents]
        unknown = [a for a in agents if a not in self.ids]
        if unknown:
            raise ValueError(f"agents not in the vocabulary: {unknown}")
        for i, a in enumerate(ordered[: self.max_agents]):
            concepts[self.ids.index(a)] = 1
            text[i] = self.table["features"][a]
            mask[i] = 1
        return concepts, text, mask

    def batch(self, combos: list[list[str]]):
        parts = [self.encode(c) for c in combos]
        return tuple(torch.from_numpy(np.stack([p[k] for p in parts])) for k in range(3))


def make_schedule(cfg: DynamicsConfig):
    T = cfg.diffusion_steps
    if cfg.beta_schedule == "linear":
        betas = torch.linspace(cfg.beta_start, cfg.beta_end, T, dtype=torch.float64)
    elif cfg.beta_schedule == "scaled_linear":
        betas = torch.linspace(cfg.beta_start**0.5, cfg.beta_end**0.5, T, dtype=torch.float64) ** 2
    else:
        raise ValueError(f"unsupported beta schedule {cfg.beta_schedule}")
    return torch.cumprod(1 - betas, 0).float()


# ---------------------------------------------------------------------------------------------
# Dynamics


def tumour_mask(labels: np.ndarray) -> np.ndarray:
    return (labels == 2).astype(np.float32)


def centre(a: np.ndarray, patch: int) -> np.ndarray:
    s = (a.shape[0] - patch) // 2
    return a[s : s + patch, s : s + patch, s : s + patch]


def tumour_distribution_loss(recon: torch.Tensor, x: torch.Tensor, tumour: torch.Tensor) -> torch.Tensor:
    """1-D Wasserstein distance between the intensity distributions of recon and input inside each
    sample's tumour (mean |sorted − sorted|): a blurred mix of Lipiodol and necrosis lands in the
    viable HU band, so pixelwise L1 alone lets the decoder report the wrong composition."""
    terms = []
    for r, v, m in zip(recon, x, tumour):
        inside = m > 0.5
        if inside.any():
            terms.append((torch.sort(r[inside]).values - torch.sort(v[inside]).values).abs().mean())
    return torch.stack(terms).mean() if terms else recon.sum() * 0


def train_autoencoder(cfg: DynamicsConfig, train: list[PreparedCase], log: Logger, rng) -> KLAutoencoder:
    c = cfg.common
    ae = KLAutoencoder(cfg.ae_channels, cfg.latent_channels, cfg.downsample)
    opt = torch.optim.Adam(ae.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.ae_steps, pct_start=0.1) if cfg.ae_one_cycle else None
    for step in range(cfg.ae_steps):
        patches, tumours = [], []
        for _ in range(4):
            case = train[rng.integers(len(train))]
            pre, pre_labels, post, _ = random_patch(case, c.patch, rng, 6)
            patches.append(post if rng.uniform() < cfg.ae_post_share else pre)
            tumours.append(tumour_mask(pre_labels))
        x = torch.from_numpy(np.stack(patches)[:, None])
        weight = 1 + cfg.ae_tumour_weight * dilate(torch.from_numpy(np.stack(tumours)[:, None]), 1)
        recon, mean, logvar = ae(x)
        rec = ((recon - x).abs() * weight).sum() / weight.sum()
        kl = 0.5 * torch.mean(mean**2 + logvar.exp() - 1 - logvar)
        loss = rec + cfg.ae_kl_weight * kl
        dist = torch.zeros(())
        if cfg.ae_distribution_weight > 0:
            dist = tumour_distribution_loss(recon, x, torch.from_numpy(np.stack(tumours)[:, None]))
            loss = loss + cfg.ae_distribution_weight * dist
        opt.zero_grad()
        loss.backward()
        opt.step()
        if schedule:
            schedule.step()
        if step % 50 == 0 or step == cfg.ae_steps - 1:
            log(model="dynamics", stage="autoencoder", step=step, l1=round(rec.item(), 4), kl=round(kl.item(), 3), tumourDistribution=round(dist.item(), 4))
    with torch.no_grad():
        means = [ae.encoder(torch.from_numpy(centre(cs.post, c.patch))[None, None])[0] for cs in train[:32]]
        ae.scale.fill_(1.0 / float(torch.cat(means).std()))
    return ae


@dataclasses.dataclass
class LatentCase:
    z_post: torch.Tensor  # [C, p, p, p]
    z_pre: torch.Tensor
    masked: dict  # level -> (z_masked [C,p,p,p], mask [1,P,P,P])
    level: int
    agents: list[str]


def encode_cases(ae: KLAutoencoder, cases: list[PreparedCase], patch: int) -> list[LatentCase]:
    enc = ScaledEncoder(ae).eval()
    out = []
    with torch.no_grad():
        for cs in cases:
            pre = torch.from_numpy(centre(cs.pre, patch))[None, None]
            post = torch.from_numpy(centre(cs.post, patch))[None, None]
            m = torch.from_numpy(tumour_mask(centre(cs.pre_labels, patch)))[None, None]
            masked = {}
            for level in sorted({0, cs.level}):
                ma = attenuate(m, level)
                masked[level] = (enc(pre * (1 - ma))[0], ma[0])
            out.append(LatentCase(enc(post)[0], enc(pre)[0], masked, cs.level, cs.agents))
    return out


def response_descriptor(z0_hat, z_pre, mask_small):
    """Pooled treatment effect inside the tumour: mean and mean |·| of (ẑ0 − z_pre) per channel."""
    diff = z0_hat - z_pre
    w = mask_small / (mask_small.sum(dim=(2, 3, 4), keepdim=True) + 1e-6)
    return torch.cat([(diff * w).sum(dim=(2, 3, 4)), (diff.abs() * w).sum(dim=(2, 3, 4))], dim=1)


def disjoint_combo(agents: list[str], vocab_ids: list[str], phases: dict, rng) -> list[str]:
    drugs = [a for a in vocab_ids if phases[a] == "drug" and a not in agents]
    embolics = [a for a in vocab_ids if phases[a] == "embolic" and a not in agents]
    return [str(rng.choice(drugs)), str(rng.choice(embolics))]


def train_denoiser(cfg: DynamicsConfig, latents: list[LatentCase], coder: ActionCoder, log: Logger, rng) -> LatentDenoiser:
    action = ActionEncoder(len(coder.ids), cfg.text_dim, cfg.max_agents, cfg.action_dim, cfg.action_text)
    net = LatentDenoiser(cfg.latent_channels, cfg.denoiser_channels, action, cfg.action_dim, cfg.downsample)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    ac = make_schedule(cfg)
    phases = {a["id"]: a["phase"] for a in coder.vocab}
    for step in range(cfg.denoiser_steps):
        idx = rng.integers(len(latents), size=cfg.batch_size)
        batch = [latents[i] for i in idx]
        levels = [(b.level if (cfg.attenuation and rng.uniform() < 0.5) else 0) for b in batch]
        z1 = torch.stack([b.z_post for b in batch])
        zp = torch.stack([b.z_pre for b in batch])
        zm = torch.stack([b.masked[l][0] for b, l in zip(batch, levels)])
        m = torch.stack([b.masked[l][1] for b, l in zip(batch, levels)])
        t = torch.from_numpy(rng.integers(0, cfg.diffusion_steps, size=len(batch)))
        a = ac[t].view(-1, 1, 1, 1, 1)
        noise = torch.randn_like(z1)
        zt = a.sqrt() * z1 + (1 - a).sqrt() * noise
        concepts, text, tmask = coder.batch([b.agents for b in batch])
        eps = net(zt, t.float(), zm, m, concepts, text, tmask)
        # ε-loss weighted up where the pre-treatment tumour lies on the latent grid (the only part
        # the action changes and the runtime pastes back), from the unattenuated mask.
        tumour = F.max_pool3d(torch.stack([b.masked[0][1] for b in batch]), cfg.downsample)
        weight = 1 + cfg.denoiser_tumour_weight * tumour
        mse = (((eps - noise) ** 2) * weight).sum() / (weight.sum() * eps.shape[1])
        loss = mse
        cl_value = 0.0
        if cfg.contrastive:
            # Eq. 3 on the predicted clean latent ẑ0 (differentiable through ε̂): positive = another
            # case of the batch whose combo shares a keyword; negative = the same case under a combo
            # with no shared keyword. Stable InfoNCE form (Eq. 3's printed denominator can be ≤ 0).
            z0 = (zt - (1 - a).sqrt() * eps) / a.sqrt()
            neg_agents = [disjoint_combo(b.agents, coder.ids, phases, rng) for b in batch]
            nc, nt, nm = coder.batch(neg_agents)
            eps_neg = net(zt, t.float(), zm, m, nc, nt, nm)
            z0_neg = (zt - (1 - a).sqrt() * eps_neg) / a.sqrt()
            ms = F.avg_pool3d(m, cfg.downsample)
            d = F.normalize(response_descriptor(z0, zp, ms), dim=1)
            dn = F.normalize(response_descriptor(z0_neg, zp, ms), dim=1)
            terms = []
            for i, b in enumerate(batch):
                pos = [j for j, o in enumerate(batch) if j != i and set(o.agents) & set(b.agents)]
                if not pos:
                    continue
                j = pos[rng.integers(len(pos))]
                s_pos = (d[i] * d[j]).sum() / cfg.contrastive_temperature
                s_neg = (d[i] * dn[i]).sum() / cfg.contrastive_temperature
                terms.append(-(s_pos - torch.logsumexp(torch.stack([s_pos, s_neg]), 0)) * a[i].squeeze())
            if terms:
                cl = torch.stack(terms).mean()
                loss = loss + cfg.contrastive_weight * cl
                cl_value = cl.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == cfg.denoiser_steps - 1:
            log(model="dynamics", stage="denoiser", step=step, mse=round(mse.item(), 4), contrastive=round(cl_value, 4))
    return net


@torch.no_grad()
def ddim_sample(net, cfg: DynamicsConfig, zm, m, agents_list, coder, steps: int, generator, ancestral: bool = False) -> torch.Tensor:
    """Python DDIM (η = 0) or DDPM ancestral ("leading" timesteps) for held-out evaluation only;
    inference uses the TypeScript sampler."""
    ac = make_schedule(cfg)
    n = zm.shape[0]
    x = torch.randn(zm.shape, generator=generator)
    concepts, text, tmask = coder.batch(agents_list)
    ratio = cfg.diffusion_steps // steps
    for i in reversed(range(steps)):
        t = i * ratio
        eps = net(x, torch.full((n,), float(t)), zm, m, concepts, text, tmask)
        a = ac[t]
        ap = ac[t - ratio] if t - ratio >= 0 else torch.tensor(1.0)
        x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        if ancestral:
            beta = 1 - a / ap
            mean = ap.sqrt() * beta / (1 - a) * x0 + (a / ap).sqrt() * (1 - ap) / (1 - a) * x
            x = mean + (((1 - ap) / (1 - a) * beta).clamp(min=1e-20).sqrt() * torch.randn(x.shape, generator=generator) if t > 0 else 0)
        else:
            x = ap.sqrt() * x0 + (1 - ap).sqrt() * eps
    return x


def fractions(post_norm: np.ndarray, region: np.ndarray, common: CommonConfig) -> dict:
    lo, hi = common.window_hu
    a, b = common.value_range
    hu = lo + (post_norm - a) / (b - a) * (hi - lo)
    v = hu[region > 0.5]
    if v.size == 0:
        return {"viable": 0.0, "lipiodol": 0.0, "necrosis": 0.0}
    return {
        "viable": float(((v >= VIABLE_MIN_HU) & (v < LIPIODOL_MIN_HU)).mean()),
        "lipiodol": float((v >= LIPIODOL_MIN_HU).mean()),
        "necrosis": float((v < VIABLE_MIN_HU).mean()),
    }


@torch.no_grad()
def evaluate_dynamics(ae, net, cfg, val: list[PreparedCase], latents: list[LatentCase], coder, log) -> dict:
    dec = ScaledDecoder(ae).eval()
    net.eval()
    c = cfg.common
    phases = {a["id"]: a["phase"] for a in coder.vocab}
    rng = np.random.default_rng(c.seed + 7)
    g = torch.Generator().manual_seed(c.seed)
    within, between, sim_viable, true_viable, errors, recon_l1 = [], [], [], [], {"viable": [], "lipiodol": [], "necrosis": []}, []
    world_ratio, sim_for_world = [], []
    ddpm_errors = {"viable": [], "lipiodol": [], "necrosis": []}
    for cs, lat in zip(val, latents):
        zm, m = lat.masked[0]
        other = disjoint_combo(cs.agents, coder.ids, phases, rng)
        z = ddim_sample(net, cfg, zm[None].repeat(3, 1, 1, 1, 1), m[None].repeat(3, 1, 1, 1, 1), [cs.agents, cs.agents, other], coder, 20, g)
        x = dec(z).numpy()[:, 0]
        region = tumour_mask(centre(cs.pre_labels, c.patch))
        inside = region > 0.5
        within.append(float(np.abs(x[0] - x[1])[inside].mean()))
        between.append(float((np.abs(x[0] - x[2])[inside].mean() + np.abs(x[1] - x[2])[inside].mean()) / 2))
        f_sim = fractions(x[0], region, c)
        f_true = fractions(centre(cs.post, c.patch), region, c)
        sim_viable.append(f_sim["viable"])
        true_viable.append(f_true["viable"])
        if cs.truth and "viableRatio" in cs.truth:
            world_ratio.append(float(cs.truth["viableRatio"]))
            sim_for_world.append(f_sim["viable"])
        for k in errors:
            errors[k].append(abs(f_sim[k] - f_true[k]))
        zd = ddim_sample(net, cfg, zm[None], m[None], [cs.agents], coder, 200, g, ancestral=True)
        f_ddpm = fractions(dec(zd).numpy()[0, 0], region, c)
        for k in errors:
            ddpm_errors[k].append(abs(f_ddpm[k] - f_true[k]))
        recon = dec(lat.z_post[None]).numpy()[0, 0]
        recon_l1.append(float(np.abs(recon - centre(cs.post, c.patch)).mean()))
    quality = {
        "heldOutCases": len(val),
        "sampler": "DDIM-20 (Python evaluation sampler)",
        "autoencoderReconstructionL1": round(float(np.mean(recon_l1)), 4),
        "actionEffectRatio": round(float(np.mean(between) / max(np.mean(within), 1e-8)), 3),
        "actionEffectNote": "mean |x(a) − x(a')| / mean |x(a) − x(a)'| inside the pre-treatment tumour, different vs same protocol",
        "viableFractionSpearman": finite(metrics.spearman(sim_viable, true_viable)),
        "viableFractionNote": "share of the pre-treatment tumour region with viable HU [55, 250) in the simulated vs the true post-CT",
        "viableVsWorldViableRatioSpearman": finite(metrics.spearman(sim_for_world, world_ratio)) if world_ratio else None,
        "fractionMeanAbsError": {k: round(float(np.mean(v)), 4) for k, v in errors.items()},
        "fractionMeanAbsErrorDdpm200": {k: round(float(np.mean(v)), 4) for k, v in ddpm_errors.items()},
    }
    log(model="dynamics", stage="evaluation", **quality)
    return quality


AUTOENCODER_FIELDS = ("latent_channels", "downsample", "ae_channels", "ae_steps", "ae_kl_weight", "ae_tumour_weight", "ae_distribution_weight", "ae_post_share", "ae_one_cycle", "lr")


@torch.no_grad()
def autoencoder_composition(ae: KLAutoencoder, val: list[PreparedCase], common: CommonConfig) -> dict:
    """How well decode(encode(true post-CT)) keeps the tumour's viable / Lipiodol / necrosis shares:
    the ceiling of what the dynamics can show through this decoder."""
    enc, dec = ScaledEncoder(ae).eval(), ScaledDecoder(ae).eval()
    rec_shares, true_shares = [], []
    for cs in val:
        post = centre(cs.post, common.patch)
        region = tumour_mask(centre(cs.pre_labels, common.patch))
        recon = dec(enc(torch.from_numpy(post)[None, None])).numpy()[0, 0]
        rec_shares.append(fractions(recon, region, common))
        true_shares.append(fractions(post, region, common))
    keys = ("viable", "lipiodol", "necrosis")
    return {
        "shareSpearman": {k: finite(metrics.spearman([r[k] for r in rec_shares], [t[k] for t in true_shares])) for k in keys},
        "shareMeanAbsError": {k: round(float(np.mean([abs(r[k] - t[k]) for r, t in zip(rec_shares, true_shares)])), 4) for k in keys},
    }


def reused_autoencoder(cfg: DynamicsConfig, checkpoint: Path, log: Logger) -> KLAutoencoder:
    """The autoencoder of an earlier dynamics run with the same autoencoder configuration (denoiser
    ablations share it, so they differ in the denoiser only)."""
    saved = torch.load(checkpoint, weights_only=False)
    mismatched = [k for k in AUTOENCODER_FIELDS if saved["config"].get(k) != getattr(cfg, k)]
    if mismatched or saved["config"]["common"] != to_dict(cfg.common):
        raise ValueError(f"{checkpoint}: autoencoder configuration differs ({', '.join(mismatched) or 'common'})")
    ae = KLAutoencoder(cfg.ae_channels, cfg.latent_channels, cfg.downsample)
    ae.load_state_dict(saved["autoencoder"])
    log(model="dynamics", stage="autoencoder", reusedFrom=str(checkpoint), scale=float(ae.scale))
    return ae


def run_dynamics(cfg: DynamicsConfig, cases: list[PreparedCase], out: Path, data_note: str, log: Logger, reuse_autoencoder: Path | None = None) -> Path:
    seed_everything(cfg.common.seed, cfg.common.threads)
    rng = np.random.default_rng(cfg.common.seed)
    train, val = split(cases, cfg.common.val_fraction, cfg.common.seed)
    coder = ActionCoder(cfg.text_dim, cfg.max_agents)
    ae = reused_autoencoder(cfg, reuse_autoencoder, log) if reuse_autoencoder else train_autoencoder(cfg, train, log, rng)
    ae_quality = autoencoder_composition(ae, val, cfg.common)
    log(model="dynamics", stage="autoencoder-evaluation", **ae_quality)
    # The denoiser's randomness does not depend on how the autoencoder was obtained.
    torch.manual_seed(cfg.common.seed + 11)
    rng = np.random.default_rng(cfg.common.seed + 11)
    latents = encode_cases(ae, train, cfg.common.patch)
    net = train_denoiser(cfg, latents, coder, log, rng)
    val_latents = encode_cases(ae, val, cfg.common.patch)
    quality = evaluate_dynamics(ae, net, cfg, val, val_latents, coder, log)
    quality["autoencoderTumourComposition"] = ae_quality
    torch.save({"config": to_dict(cfg), "autoencoder": ae.state_dict(), "denoiser": net.state_dict()}, out / "checkpoint.pt")

    P = cfg.common.patch
    p = P // cfg.downsample
    C = cfg.latent_channels
    g = torch.Generator().manual_seed(1)
    image = torch.rand((1, 1, P, P, P), generator=g) * 2 - 1
    parity = {
        "encoder": export_graph(ScaledEncoder(ae), {"image": image}, ["latent"], out / "encoder.onnx", {"image": {0: "batch"}, "latent": {0: "batch"}}),
        "decoder": export_graph(ScaledDecoder(ae), {"latent": torch.randn((1, C, p, p, p), generator=g)}, ["image"], out / "decoder.onnx", {"latent": {0: "batch"}, "image": {0: "batch"}}),
    }
    concepts, text, tmask = coder.batch([["cisplatin", "lipiodol"], ["raltitrexed", "epirubicin", "gelatin-sponge"]])
    den_inputs = {
        "noisy_latent": torch.randn((2, C, p, p, p), generator=g),
        "timestep": torch.tensor([999.0, 10.0]),
        "masked_latent": torch.randn((2, C, p, p, p), generator=g),
        "mask": (torch.rand((2, 1, P, P, P), generator=g) > 0.7).float(),
        "action_concepts": concepts,
        "action_text": text,
        "action_text_mask": tmask,
    }
    dyn = {k: {0: "batch"} for k in den_inputs}
    dyn["noise"] = {0: "batch"}
    parity["denoiser"] = export_graph(net.eval(), den_inputs, ["noise"], out / "denoiser.onnx", dyn)
    (out / "action-text.json").write_text(json.dumps(coder.table))
    A, H, Fd = len(coder.ids), cfg.max_agents, cfg.text_dim
    graphs = {
        "encoder": {"file": "encoder.onnx", "inputs": [spec("image", ["batch", 1, P, P, P], "CT patch in the intensity range")], "outputs": [spec("latent", ["batch", C, p, p, p], "scaled latent mean")]},
        "decoder": {"file": "decoder.onnx", "inputs": [spec("latent", ["batch", C, p, p, p])], "outputs": [spec("image", ["batch", 1, P, P, P])]},
        "denoiser": {
            "file": "denoiser.onnx",
            "inputs": [
                spec("noisy_latent", ["batch", C, p, p, p]),
                spec("timestep", ["batch"], "training timestep t as float"),
                spec("masked_latent", ["batch", C, p, p, p], "latent of the pre-CT with the tumour masked out"),
                spec("mask", ["batch", 1, P, P, P], "tumour mask of the pre-CT, 0..1"),
                spec("action_concepts", ["batch", A], "multi-hot over action.agents"),
                spec("action_text", ["batch", H, Fd], "text features of each agent in vocabulary order, zero padded"),
                spec("action_text_mask", ["batch", H]),
            ],
            "outputs": [spec("noise", ["batch", C, p, p, p], "predicted epsilon")],
        },
    }
    ablations = [n for n, on in (("no-attenuation", cfg.attenuation), ("no-contrastive", cfg.contrastive), ("no-action-text", cfg.action_text)) if not on]
    return write_model(
        out,
        role="dynamics",
        name="mewm-dynamics-demo" + ("-" + "-".join(ablations) if ablations else ""),
        version="0.2.0",
        description=f"Action-conditioned latent diffusion (KL autoencoder ×{cfg.downsample}, {C}-channel latent, small 3D U-Net denoiser with FiLM + self-attention). Demo size, trained on CPU for minutes; see quality.",
        common=cfg.common,
        graphs=graphs,
        parity=parity,
        training={"data": data_note, "cases": len(train), "seed": cfg.common.seed, "config": to_dict(cfg)},
        quality=quality,
        extra={
            "latent": {"channels": C, "downsample": cfg.downsample, "scale": float(ae.scale)},
            "scheduler": {"numTrainTimesteps": cfg.diffusion_steps, "betaSchedule": cfg.beta_schedule, "betaStart": cfg.beta_start, "betaEnd": cfg.beta_end, "predictionType": "epsilon"},
            "action": {"agents": coder.ids, "maxAgents": H, "textFeatureFile": "action-text.json", "textFeatureSha256": sha256_file(out / "action-text.json"), "textEncoder": coder.table["encoder"]},
        },
    )


# ---------------------------------------------------------------------------------------------
# Assistant


def dice_loss(logits, target, cls: int):
    p = torch.softmax(logits, 1)[:, cls]
    t = (target == cls).float()
    return 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)


def train_segmenter(net, cases, cfg: AssistantConfig, steps: int, use_post: bool, log, rng, stage: str):
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    for step in range(steps):
        xs, ys = [], []
        for _ in range(cfg.batch_size):
            cs = cases[rng.integers(len(cases))]
            pre, pl, post, ql = random_patch(cs, cfg.common.patch, rng, 8)
            x, y = (post, ql) if use_post else (pre, pl)
            if rng.uniform() < 0.2:
                x = x + 0.1 * rng.choice([-1, 1])  # intensity shift 0.1 with p 0.2 (Appendix B.3)
            if rng.uniform() < 0.1:
                k = int(rng.integers(1, 4))  # 90° rotation in the axial plane with p 0.1; no mirroring
                x, y = np.rot90(x, k, axes=(1, 2)), np.rot90(y, k, axes=(1, 2))
            xs.append(np.ascontiguousarray(x))
            ys.append(np.ascontiguousarray(y))
        x = torch.from_numpy(np.stack(xs)[:, None].astype(np.float32))
        y = torch.from_numpy(np.stack(ys).astype(np.int64))
        logits = net(x)
        loss = F.cross_entropy(logits, y) + dice_loss(logits, y, 2) + 0.5 * dice_loss(logits, y, 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            log(model="assistant", stage=stage, step=step, loss=round(loss.item(), 4))


@torch.no_grad()
def evaluate_assistant(net, val: list[PreparedCase], cfg: AssistantConfig, log) -> dict:
    net.eval()
    P = cfg.common.patch
    tumour, liver = [], []
    with torch.no_grad():
        for cs in val:
            x = torch.from_numpy(centre(cs.post, P))[None, None]
            pred = net(x).argmax(1)[0].numpy().astype(np.uint8)
            pred = metrics.postprocess_labels(pred)
            truth = centre(cs.post_labels, P)
            tumour.append(metrics.dice(pred == 2, truth == 2))
            liver.append(metrics.dice(pred >= 1, truth >= 1))
    quality = {
        "heldOutCases": len(val),
        "postTumourDice": round(float(np.mean(tumour)), 4),
        "postLiverDice": round(float(np.mean(liver)), 4),
        "evaluatedOn": f"tumour-centred {P}^3 patches of held-out post-treatment CTs, post-processed",
    }
    log(model="assistant", stage="evaluation", **quality)
    return quality


def run_assistant(cfg: AssistantConfig, cases: list[PreparedCase], out: Path, data_note: str, log: Logger) -> Path:
    seed_everything(cfg.common.seed, cfg.common.threads)
    rng = np.random.default_rng(cfg.common.seed + 1)
    train, val = split(cases, cfg.common.val_fraction, cfg.common.seed)
    net = UNet3d(cfg.channels)
    train_segmenter(net, train, cfg, cfg.pretrain_steps, False, log, rng, "pretrain-pre")
    train_segmenter(net, train, cfg, cfg.finetune_steps, True, log, rng, "finetune-post")
    quality = evaluate_assistant(net, val, cfg, log)
    torch.save({"config": to_dict(cfg), "segmenter": net.state_dict()}, out / "checkpoint.pt")
    P = cfg.common.patch
    g = torch.Generator().manual_seed(2)
    parity = {"segmenter": export_graph(net, {"image": torch.rand((1, 1, P, P, P), generator=g) * 2 - 1}, ["logits"], out / "segmenter.onnx", {"image": {0: "batch"}, "logits": {0: "batch"}})}
    graphs = {"segmenter": {"file": "segmenter.onnx", "inputs": [spec("image", ["batch", 1, P, P, P])], "outputs": [spec("logits", ["batch", 3, P, P, P], "background, liver, tumour")]}}
    return write_model(
        out,
        role="assistant",
        name="mewm-assistant-demo",
        version="0.1.0",
        description=f"3D U-Net (base {cfg.channels} channels) for liver and tumour, pretrained on pre-treatment CT and fine-tuned on post-treatment CT. Demo size.",
        common=cfg.common,
        graphs=graphs,
        parity=parity,
        training={"data": data_note, "cases": len(train), "seed": cfg.common.seed, "config": to_dict(cfg)},
        quality=quality,
        extra={"slidingWindow": {"overlap": cfg.overlap, "sigmaScale": cfg.sigma_scale}},
    )


# ---------------------------------------------------------------------------------------------
# Heuristic


def cox_loss(risk, time_, event):
    order = torch.argsort(time_, descending=True)
    r, e = risk[order], event[order]
    log_cum = torch.logcumsumexp(r, 0)
    n_events = e.sum()
    if n_events < 1:
        return risk.sum() * 0
    return -((r - log_cum) * e).sum() / n_events


def survival_inputs(cs: PreparedCase, P: int, offset) -> tuple[np.ndarray, np.ndarray]:
    size = cs.pre.shape[0]
    s = [size // 2 - P // 2 + int(o) for o in offset]
    sl = tuple(slice(a, a + P) for a in s)
    pre = np.stack([cs.pre[sl], tumour_mask(cs.pre_labels[sl])])
    post = np.stack([cs.post[sl], tumour_mask(cs.post_labels[sl])])
    return pre, post


def crop_offsets(cfg: HeuristicConfig) -> list[list[int]]:
    j = cfg.crop_jitter
    base = [[0, 0, 0], [j, 0, 0], [-j, 0, 0], [0, j, 0], [0, -j, 0], [0, 0, j], [0, 0, -j]]
    return base[: cfg.crops]


def run_heuristic(cfg: HeuristicConfig, cases: list[PreparedCase], out: Path, data_note: str, log: Logger) -> Path:
    seed_everything(cfg.common.seed, cfg.common.threads)
    rng = np.random.default_rng(cfg.common.seed + 2)
    usable = [c for c in cases if math.isfinite(c.os_months)]
    if len(usable) < 4:
        raise ValueError("the heuristic needs survival times (osMonths, event) for at least 4 cases")
    train, val = split(usable, cfg.common.val_fraction, cfg.common.seed)
    P = cfg.common.patch
    net = SurvivalNet(cfg.channels, cfg.heads)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    log_os = np.log([c.os_months for c in train])
    mu, sd = float(log_os.mean()), float(log_os.std() + 1e-6)
    for step in range(cfg.steps):
        idx = rng.integers(len(train), size=cfg.batch_size)
        pres, posts = [], []
        for i in idx:
            off = rng.integers(-cfg.crop_jitter, cfg.crop_jitter + 1, 3)
            a, b = survival_inputs(train[i], P, off)
            if rng.uniform() < 0.2:
                shift = 0.1 * rng.choice([-1, 1])
                a[0] += shift
                b[0] += shift
            pres.append(a)
            posts.append(b)
        risk, os_pred = net(torch.from_numpy(np.stack(pres)), torch.from_numpy(np.stack(posts)))
        t = torch.tensor([train[i].os_months for i in idx], dtype=torch.float32)
        e = torch.tensor([float(train[i].event) for i in idx])
        target = (torch.log(t) - mu) / sd
        resid = os_pred[:, 0] - target
        # OS regression: squared error for deaths; for censored cases only predictions below the
        # censoring time are penalised.
        reg = (e * resid**2 + (1 - e) * torch.clamp(-resid, min=0) ** 2).mean()
        loss = cox_loss(risk[:, 0], t, e) + cfg.os_weight * reg
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == cfg.steps - 1:
            log(model="heuristic", stage="train", step=step, loss=round(loss.item(), 4))
    net.eval()
    offsets = crop_offsets(cfg)
    with torch.no_grad():
        risks = []
        for cs in val:
            batch = [survival_inputs(cs, P, o) for o in offsets]
            r, _ = net(torch.from_numpy(np.stack([b[0] for b in batch])), torch.from_numpy(np.stack([b[1] for b in batch])))
            risks.append(float(r.mean()))
    times = [c.os_months for c in val]
    events = [c.event for c in val]
    c_index = metrics.concordance_index(times, [-r for r in risks], events)
    high = np.array(risks) > np.median(risks)
    p = metrics.logrank_p(np.array(times), np.array(events), high)
    quality = {"heldOutCases": len(val), "cIndex": round(c_index, 4), "logRankPMedianSplit": round(p, 4), "cropsAveraged": len(offsets)}
    log(model="heuristic", stage="evaluation", **quality)
    torch.save({"config": to_dict(cfg), "survival": net.state_dict()}, out / "checkpoint.pt")
    g = torch.Generator().manual_seed(3)
    pre = torch.cat([torch.rand((2, 1, P, P, P), generator=g) * 2 - 1, (torch.rand((2, 1, P, P, P), generator=g) > 0.8).float()], 1)
    post = torch.cat([torch.rand((2, 1, P, P, P), generator=g) * 2 - 1, (torch.rand((2, 1, P, P, P), generator=g) > 0.8).float()], 1)
    parity = {"survival": export_graph(net, {"pre": pre, "post": post}, ["risk", "log_os"], out / "survival.onnx", {"pre": {0: "batch"}, "post": {0: "batch"}, "risk": {0: "batch"}, "log_os": {0: "batch"}})}
    graphs = {
        "survival": {
            "file": "survival.onnx",
            "inputs": [spec("pre", ["batch", 2, P, P, P], "pre-CT (intensity range) and its tumour mask"), spec("post", ["batch", 2, P, P, P], "post-CT and its tumour mask")],
            "outputs": [spec("risk", ["batch", 1], "Cox log-risk, lower is better"), spec("log_os", ["batch", 1], "standardised log overall survival")],
        }
    }
    return write_model(
        out,
        role="heuristic",
        name="mewm-heuristic-demo",
        version="0.1.0",
        description="Survival network: shared 3D CNN backbone on (CT, mask) of pre and post, two-way cross-attention, gated attention aggregator, Cox + OS regression. Demo size.",
        common=cfg.common,
        graphs=graphs,
        parity=parity,
        training={"data": data_note, "cases": len(train), "seed": cfg.common.seed, "config": {**to_dict(cfg), "logOsMean": mu, "logOsStd": sd}},
        quality=quality,
        extra={"crops": len(offsets), "cropOffsetsXyz": [[o[2], o[1], o[0]] for o in offsets]},
    )


# ---------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m training.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=["dynamics", "assistant", "heuristic", "all"])
    ap.add_argument("--cohort", help="cohort directory written by `mewm synth`")
    ap.add_argument("--standin", type=int, default=0, help="use N stand-in cases instead of a cohort (smoke tests)")
    ap.add_argument("--limit", type=int, default=None, help="read at most this many cohort cases")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=CommonConfig().seed)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fast", action="store_true", help="few steps: a smoke run, not a model")
    ap.add_argument("--paper-size", action="store_true", help="96^3 patches at 1 mm (GPU)")
    ap.add_argument("--steps-scale", type=float, default=1.0, help="multiply every step count")
    ap.add_argument("--no-attenuation", action="store_true")
    ap.add_argument("--no-contrastive", action="store_true")
    ap.add_argument("--no-action-text", action="store_true")
    ap.add_argument("--reuse-autoencoder", type=Path, help="dynamics: take the autoencoder of this earlier checkpoint.pt (same autoencoder config) and train the denoiser only")
    ap.add_argument("--set", action="append", default=[], metavar="ROLE.FIELD=VALUE", help="override a config field, e.g. dynamics.contrastive_weight=0.05 (recorded in the manifest)")
    ap.add_argument("--data-note", help="what the cohort is (written into each manifest's training.data)")
    args = ap.parse_args(argv)
    if not args.cohort and not args.standin:
        ap.error("give --cohort DIR (or --standin N for a smoke run)")

    common = CommonConfig(seed=args.seed, threads=args.threads)
    if args.paper_size:
        common = paper_size(common)
    scale = 0.02 if args.fast else args.steps_scale
    s = lambda n: max(2, int(n * scale))  # noqa: E731
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)

    overrides: dict[str, dict] = {"dynamics": {}, "assistant": {}, "heuristic": {}}
    for item in args.set:
        key, _, value = item.partition("=")
        role, _, name = key.partition(".")
        if role not in overrides or not value:
            ap.error(f"--set {item}: expected ROLE.FIELD=VALUE with ROLE dynamics, assistant or heuristic")
        overrides[role][name] = json.loads(value)

    if args.cohort:
        raw = load_cohort(args.cohort, args.limit)
        data_note = args.data_note or f"mewm synthetic cohort ({len(raw)} cases) from {Path(args.cohort).name}: {'synthetic data, not for clinical use'}"
    else:
        raw = synthetic_standin_cohort(args.standin, args.seed)
        data_note = f"training/data.py stand-in phantoms ({len(raw)} cases), smoke test only"
    cases = prepare(raw, common)
    del raw
    todo = ["dynamics", "assistant", "heuristic"] if args.model == "all" else [args.model]
    for role in todo:
        out = out_root / role
        out.mkdir(parents=True, exist_ok=True)
        log = Logger(out / "train-log.jsonl")
        if role == "dynamics":
            d = dataclasses.replace(DynamicsConfig(), **overrides["dynamics"])
            cfg = dataclasses.replace(
                d, common=common, ae_steps=s(d.ae_steps), denoiser_steps=s(d.denoiser_steps),
                attenuation=not args.no_attenuation, contrastive=not args.no_contrastive, action_text=not args.no_action_text,
            )
            path = run_dynamics(cfg, cases, out, data_note, log, args.reuse_autoencoder)
        elif role == "assistant":
            a = dataclasses.replace(AssistantConfig(), **overrides["assistant"])
            path = run_assistant(dataclasses.replace(a, common=common, pretrain_steps=s(a.pretrain_steps), finetune_steps=s(a.finetune_steps)), cases, out, data_note, log)
        else:
            h = dataclasses.replace(HeuristicConfig(), **overrides["heuristic"])
            path = run_heuristic(dataclasses.replace(h, common=common, steps=s(h.steps)), cases, out, data_note, log)
        log(model=role, stage="exported", manifest=str(path))


if __name__ == "__main__":
    sys.exit(main())
