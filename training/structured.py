"""Training of the 0.3 demo dynamics and heuristic models from planning-exact patches.

    npx tsx training/export-patches.ts --seed 20261207 --from 1 --to 600 --out PATCHES   (and 601..1200)
    training/.venv/bin/python -m training.structured all --patches PATCHES --base models/demo --out OUT \
        [--minutes-response 10 --minutes-denoiser 60 --minutes-heuristic 15] [--threads 2]

Why this design (the diagnosis of issue 10, training/README.md): the 0.2 denoiser took the action
embedding τ(a) straight into FiLM and, on observational data, learned to ignore it; the learned
heuristic could not see liver toxicity. Here:

- **dynamics**: the KL autoencoder of the base model is kept (its encoder/decoder graphs are
  copied unchanged; the diagnosis showed it decodes Lipiodol, necrosis and viable tumour). A
  response head (per-agent concept embeddings × a patient vector from the pre-CT patch) predicts
  what a reader measures on the post-CT — volume ratio, viable / necrosis / Lipiodol shares of the
  residual lesion, liver HU shift — supervised by those measurements on the true post-CTs. The
  latent denoiser is conditioned on that response vector (teacher-forced with the measured one in
  training), so the ε-loss depends on it. The runtime pastes the simulated tumour region back
  and shifts the whole liver by the predicted liver shift, so toxicity reaches the heuristic.
- **heuristic**: the post-CT reaches the risk only through features measured in the graph
  (viable / Lipiodol / necrotic / residual volume inside the post tumour mask, liver attenuation
  shift on the shared liver), plus a pre-CT CNN for the baseline prognosis; Cox partial
  likelihood + 0.5 · OS regression, as before.

Training reads only what real data would hold: pre/post patches and masks, the one protocol each
patient received, OS and event. Every stage is time-budgeted (`--minutes-*`), so a run on a
busy CPU still ends with exportable weights; the dynamics weights are saved beside OUT
(`OUT-dynamics-checkpoint.pt`) for `reexport-dynamics`; the same script takes `--device cuda`.
"""
from __future__ import annotations

import argparse
import copy
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import models as M
from .config import CommonConfig
from .export import export_graph, record_parity, sha256_file, spec, write_model
from .metrics import concordance_index
from .train import cox_loss

PATCH = 32
STORED = 40
VERSION = "0.3.0"


def log(**record):
    record["t"] = round(time.time(), 1)
    print(json.dumps(record), flush=True)


# ---------------------------------------------------------------------------------------------
# Data


@dataclass
class Patches:
    pre: np.ndarray  # [N, 40, 40, 40] model range
    post: np.ndarray
    pre_liver: np.ndarray  # [N, 40, 40, 40] 0..1
    pre_tumour: np.ndarray
    post_liver: np.ndarray
    post_tumour: np.ndarray
    concepts: np.ndarray  # [N, A]
    response: np.ndarray  # [N, 5] measured on the true post-CT (RESPONSE_FIELDS order)
    os_months: np.ndarray
    event: np.ndarray
    split: list[str]
    case_ids: list[str]
    truth: list[dict]

    def subset(self, idx: np.ndarray) -> "Patches":
        arrays = {k: getattr(self, k)[idx] for k in ("pre", "post", "pre_liver", "pre_tumour", "post_liver", "post_tumour", "concepts", "response", "os_months", "event")}
        lists = {k: [getattr(self, k)[i] for i in idx] for k in ("split", "case_ids", "truth")}
        return Patches(**arrays, **lists)

    def __len__(self) -> int:
        return len(self.case_ids)


def normalise(hu: np.ndarray) -> np.ndarray:
    return (np.clip(hu, M.WINDOW_LO_HU, M.WINDOW_HI_HU) - M.WINDOW_LO_HU) / (M.WINDOW_HI_HU - M.WINDOW_LO_HU) * 2 - 1


def agent_ids() -> list[str]:
    return [a["id"] for a in json.loads((Path(__file__).parent / "vocabulary.json").read_text())["agents"]]


def load_patches(directory: Path, limit: int | None = None) -> Patches:
    ids = agent_ids()
    parts = {k: [] for k in ("pre", "post", "pre_liver", "pre_tumour", "post_liver", "post_tumour")}
    metas: list[dict] = []
    for meta_path in sorted(directory.glob("shard-*.jsonl"), key=lambda p: int(p.stem.split("-")[1])):
        lines = [json.loads(l) for l in meta_path.read_text().splitlines() if l.strip()]
        raw = np.fromfile(meta_path.with_suffix(".bin"), dtype=np.uint8)
        info = meta_path.with_suffix(".json")
        stored = json.loads(info.read_text()).get("patch", STORED) if info.exists() else STORED
        n3 = stored**3
        per_case = 2 * 4 * n3 + 4 * n3
        if raw.size != per_case * len(lines):
            raise ValueError(f"{meta_path.with_suffix('.bin').name}: {raw.size} bytes for {len(lines)} cases")
        raw = raw.reshape(len(lines), per_case)
        cts = raw[:, : 8 * n3].copy().view(np.float32).reshape(len(lines), 2, stored, stored, stored)
        masks = raw[:, 8 * n3 :].reshape(len(lines), 4, stored, stored, stored)
        parts["pre"].append(normalise(cts[:, 0]).astype(np.float32))
        parts["post"].append(normalise(cts[:, 1]).astype(np.float32))
        for i, k in enumerate(("pre_liver", "pre_tumour", "post_liver", "post_tumour")):
            parts[k].append(masks[:, i].astype(np.float32) / 255)
        metas += lines
        if limit and len(metas) >= limit:
            break
    arrays = {k: np.concatenate(v)[: limit or None] for k, v in parts.items()}
    metas = metas[: limit or None]
    concepts = np.zeros((len(metas), len(ids)), np.float32)
    for i, m in enumerate(metas):
        for a in m["agents"]:
            concepts[i, ids.index(a)] = 1
    response = np.array([[m["measured"][f] for f in M.RESPONSE_FIELDS] for m in metas], np.float32)
    return Patches(
        **arrays,
        concepts=concepts,
        response=response,
        os_months=np.array([m["osMonths"] for m in metas], np.float32),
        event=np.array([m["event"] for m in metas], np.float32),
        split=[m["split"] for m in metas],
        case_ids=[m["caseId"] for m in metas],
        truth=[m.get("truth", {}) for m in metas],
    )


def crop(a: np.ndarray, offset=(0, 0, 0)) -> np.ndarray:
    """Central PATCH³ of the stored patches (STORED³ unless exported with another --patch; axis
    order Z, Y, X; offset in x, y, z)."""
    s = (a.shape[-1] - PATCH) // 2
    oz, oy, ox = s + offset[2], s + offset[1], s + offset[0]
    return a[..., oz : oz + PATCH, oy : oy + PATCH, ox : ox + PATCH]


def pre_input(d: Patches, idx, offset=(0, 0, 0)) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.stack([crop(d.pre[idx], offset), crop(d.pre_liver[idx], offset), crop(d.pre_tumour[idx], offset)], axis=1)))


def post_input(d: Patches, idx, offset=(0, 0, 0)) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.stack([crop(d.post[idx], offset), crop(d.post_liver[idx], offset), crop(d.post_tumour[idx], offset)], axis=1)))


def spearman(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def c_index(risk, time_, event) -> float:
    """Harrell's C of a risk score (higher risk = shorter survival)."""
    return concordance_index(time_, -np.asarray(risk), event)


# ---------------------------------------------------------------------------------------------
# Response head


def response_loss(pred, target, viable_ratio_weight: float = 0.0):
    """MSE on the volume ratio and the liver shift, cross-entropy on the shares; `viable_ratio_weight`
    adds an MSE on volume ratio × viable share, the residual viable volume the risk reads."""
    volume = F.mse_loss(pred[:, 0], target[:, 0])
    shares = -(target[:, 1:4] * torch.log(pred[:, 1:4] + 1e-6)).sum(1).mean()
    shift = F.mse_loss(pred[:, 4] / M.LIVER_SHIFT_SCALE_HU, target[:, 4] / M.LIVER_SHIFT_SCALE_HU)
    loss = volume + shares + shift
    if viable_ratio_weight:
        loss = loss + viable_ratio_weight * F.mse_loss(pred[:, 0] * pred[:, 1], target[:, 0] * target[:, 1])
    return loss


def train_response(train: Patches, val: Patches, minutes: float, rng, device, viable_ratio_weight: float = 0.0, patient: str = "cnn") -> tuple[M.ResponseHead, dict]:
    net = M.ResponseHead(train.concepts.shape[1], ch=16, dim=48, patient=patient).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    deadline = time.time() + minutes * 60
    step = 0
    best, best_state = float("inf"), None
    while time.time() < deadline:
        idx = rng.integers(len(train), size=32)
        offset = tuple(int(v) for v in rng.integers(-2, 3, size=3))
        pred = net(pre_input(train, idx, offset).to(device), torch.from_numpy(train.concepts[idx]).to(device))
        loss = response_loss(pred, torch.from_numpy(train.response[idx]).to(device), viable_ratio_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 200 == 0:
            val_loss, _ = evaluate_response(net, val, device)
            if val_loss < best:
                best, best_state = val_loss, copy.deepcopy(net.state_dict())
            log(model="dynamics", stage="response", step=step, loss=round(loss.item(), 4), valLoss=round(val_loss, 4))
        step += 1
    if best_state is not None:
        val_loss, _ = evaluate_response(net, val, device)
        if best < val_loss:
            net.load_state_dict(best_state)
    _, quality = evaluate_response(net, val, device)
    quality["steps"] = step
    return net.eval(), quality


@torch.no_grad()
def predict_response(net, d: Patches, device, concepts=None) -> np.ndarray:
    net.eval()
    out = []
    for s in range(0, len(d), 64):
        idx = np.arange(s, min(len(d), s + 64))
        c = torch.from_numpy((d.concepts if concepts is None else concepts)[idx]).to(device)
        out.append(net(pre_input(d, idx).to(device), c).cpu().numpy())
    net.train()
    return np.concatenate(out)


def evaluate_response(net, val: Patches, device) -> tuple[float, dict]:
    pred = predict_response(net, val, device)
    loss = float(response_loss(torch.from_numpy(pred), torch.from_numpy(val.response)))
    quality = {"heldOutCases": len(val), "valLoss": round(loss, 4)}
    for i, f in enumerate(M.RESPONSE_FIELDS):
        quality[f] = {"spearman": round(spearman(pred[:, i], val.response[:, i]), 3), "meanAbsError": round(float(np.mean(np.abs(pred[:, i] - val.response[:, i]))), 4)}
    viable, viable_true = pred[:, 0] * pred[:, 1], val.response[:, 0] * val.response[:, 1]
    quality["viableRatio"] = {"spearman": round(spearman(viable, viable_true), 3), "meanAbsError": round(float(np.mean(np.abs(viable - viable_true))), 4)}
    return loss, quality


# ---------------------------------------------------------------------------------------------
# Latents and denoiser


def cpu_session(path: Path, threads: int):
    """An onnxruntime CPU session with `threads` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def split_indices(d: Patches) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) case indices by the cohort's split; smoke runs on a handful of train-only
    cases hold out their last fifth."""
    held = np.array([i for i, s in enumerate(d.split) if s != "train"], dtype=int)
    train_idx = np.array([i for i, s in enumerate(d.split) if s == "train"], dtype=int)
    if len(held) == 0:
        held, train_idx = train_idx[-max(1, len(train_idx) // 5) :], train_idx[: -max(1, len(train_idx) // 5)]
    return train_idx, held


def encode_latents(encoder_path: Path, d: Patches, threads: int) -> tuple[np.ndarray, np.ndarray]:
    session = cpu_session(encoder_path, threads)
    post_z, masked_z = [], []
    for s in range(0, len(d), 32):
        idx = np.arange(s, min(len(d), s + 32))
        pre, tumour, post = crop(d.pre[idx]), crop(d.pre_tumour[idx]), crop(d.post[idx])
        masked_z.append(session.run(["latent"], {"image": (pre * (1 - tumour))[:, None].astype(np.float32)})[0])
        post_z.append(session.run(["latent"], {"image": post[:, None].astype(np.float32)})[0])
    return np.concatenate(post_z), np.concatenate(masked_z)


def alphas_cumprod(base_manifest: dict) -> torch.Tensor:
    s = base_manifest["scheduler"]
    betas = torch.linspace(s["betaStart"], s["betaEnd"], s["numTrainTimesteps"], dtype=torch.float64)
    return torch.cumprod(1 - betas, 0).float()


def train_denoiser(d: Patches, post_z, masked_z, base_manifest, minutes: float, rng, device, response_noise: float = 0.02,
                   init_state: dict | None = None, lr: float = 1e-3, tumour_weight: float = 1.0, cond_dropout: float = 0.0):
    """ε-loss over the latent; `tumour_weight` > 1 weights the latent voxels of the pre-treatment
    tumour (avg-pooled mask) that much more, where the action changes the picture; `init_state`
    continues from earlier weights; `cond_dropout` drops the response for that share of samples
    (classifier-free guidance, models.ResponseDenoiser)."""
    C = post_z.shape[1]
    ds = base_manifest["latent"]["downsample"]
    net = M.ResponseDenoiser(C, ch=32, cond_dim=48, downsample=ds).to(device)
    if init_state is not None:
        net.load_state_dict(init_state)
    ema = copy.deepcopy(net).eval()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-5)
    abar = alphas_cumprod(base_manifest).to(device)
    T = abar.shape[0]
    z1, z0m = torch.from_numpy(post_z).to(device), torch.from_numpy(masked_z).to(device)
    mask = torch.from_numpy(np.ascontiguousarray(crop(d.pre_tumour)[:, None])).to(device)
    resp = torch.from_numpy(d.response).to(device)
    deadline = time.time() + minutes * 60
    step = 0
    while time.time() < deadline:
        idx = torch.from_numpy(rng.integers(len(d), size=48)).to(device)
        t = torch.from_numpy(rng.integers(T, size=48)).to(device)
        eps = torch.randn_like(z1[idx])
        a = abar[t].view(-1, 1, 1, 1, 1)
        zt = a.sqrt() * z1[idx] + (1 - a).sqrt() * eps
        r = resp[idx] + response_noise * torch.randn_like(resp[idx]) * torch.tensor([1, 1, 1, 1, M.LIVER_SHIFT_SCALE_HU], device=device)
        keep = (torch.from_numpy(rng.random(48)).to(device) >= cond_dropout).float() if cond_dropout > 0 else None
        pred = net(zt, t.float(), z0m[idx], mask[idx], r, keep)
        if tumour_weight == 1.0:
            loss = F.mse_loss(pred, eps)
        else:
            w = 1 + (tumour_weight - 1) * F.avg_pool3d(mask[idx], ds)
            loss = (w * (pred - eps) ** 2).mean() / w.mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        decay = 0.999 if init_state is not None else min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.mul_(decay).add_(p.detach(), alpha=1 - decay)
        if step % 500 == 0:
            log(model="dynamics", stage="denoiser", step=step, loss=round(loss.item(), 4))
        step += 1
    log(model="dynamics", stage="denoiser", steps=step)
    return ema, step


@torch.no_grad()
def ddim_sample(net, masked_latent, mask, response, abar, steps: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(masked_latent.shape, generator=g)
    T = abar.shape[0]
    ts = list(range(T - 1, -1, -(T // steps)))[:steps]
    for i, t in enumerate(ts):
        a = abar[t]
        a_prev = abar[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0)
        eps = net(z, torch.full((z.shape[0],), float(t)), masked_latent, mask, response)
        x0 = (z - (1 - a).sqrt() * eps) / a.sqrt()
        z = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return z


def composition(image_hu: np.ndarray, region: np.ndarray) -> tuple[float, float, float]:
    inside = region > 0.5
    n = max(1, int(inside.sum()))
    v = image_hu[inside]
    lip = float((v >= 250).sum()) / n
    via = float(((v >= 55) & (v < 250)).sum()) / n
    return via, 1 - via - lip, lip


@torch.no_grad()
def evaluate_dynamics(head, den, decoder_path: Path, d: Patches, masked_z, base_manifest, device, cases: int = 24) -> dict:
    """Composition inside the pre-tumour region of decoded samples vs the true post-CT, for each
    case's own protocol and for a panel of swapped protocols (does the action move the picture)."""
    import onnxruntime as ort

    decoder = ort.InferenceSession(str(decoder_path), providers=["CPUExecutionProvider"])
    abar = alphas_cumprod(base_manifest)
    ids = agent_ids()
    panel = [["cisplatin", "lipiodol"], ["epirubicin", "gelatin-sponge"], ["raltitrexed", "pva"], ["mitomycin", "absolute-alcohol"], ["doxorubicin", "lipiodol", "drug-eluting-beads"], ["fluorouracil"]]
    n = min(cases, len(d))
    idx = np.arange(n)
    true_comp, own_comp = [], []
    per_panel = {"+".join(p): [] for p in panel}
    pre_hu = M.to_hu(torch.from_numpy(crop(d.post[idx]))).numpy()
    region = crop(d.pre_tumour[idx])
    mask = torch.from_numpy(np.ascontiguousarray(region[:, None]))
    z0m = torch.from_numpy(masked_z[idx])

    def simulate(concepts):
        r = torch.from_numpy(predict_response(head, d.subset(idx), device, concepts))
        z = ddim_sample(den.cpu(), z0m, mask, r, abar, 20, 7)
        img = decoder.run(["image"], {"latent": z.numpy()})[0][:, 0]
        return M.to_hu(torch.from_numpy(np.clip(img, -1, 1))).numpy(), r.numpy()

    own, _ = simulate(d.concepts[idx])
    for i in range(n):
        true_comp.append(composition(pre_hu[i], region[i]))
        own_comp.append(composition(own[i], region[i]))
    for p in panel:
        c = np.zeros((n, len(ids)), np.float32)
        for a in p:
            c[:, ids.index(a)] = 1
        img, r = simulate(c)
        per_panel["+".join(p)] = {
            "simulatedShares": [round(float(np.mean([composition(img[i], region[i])[k] for i in range(n)])), 3) for k in range(3)],
            "predictedResponse": [round(float(v), 3) for v in r.mean(0)],
        }
    den.to(device)
    true_comp, own_comp = np.array(true_comp), np.array(own_comp)
    return {
        "heldOutCases": n,
        "sampler": "DDIM-20 (Python)",
        "ownProtocolShareMeanAbsError": [round(float(v), 3) for v in np.abs(true_comp - own_comp).mean(0)],
        "ownProtocolShareSpearman": [round(spearman(true_comp[:, k], own_comp[:, k]), 3) for k in range(3)],
        "shareOrder": ["viable", "necrosis", "lipiodol"],
        "panel": per_panel,
    }


# ---------------------------------------------------------------------------------------------
# Heuristic


CROP_OFFSETS = [(0, 0, 0), (0, 0, 3), (0, 0, -3), (3, 0, 0), (-3, 0, 0)]


def train_heuristic(train: Patches, val: Patches, minutes: float, rng, device):
    net = M.MeasuredSurvivalNet(ch=8, dim=32).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
    log_os = np.log(np.maximum(train.os_months, 0.1))
    mu, sd = float(log_os.mean()), float(log_os.std())
    deadline = time.time() + minutes * 60
    step = 0
    best, best_state = -1.0, None
    while time.time() < deadline:
        idx = rng.integers(len(train), size=96)
        offset = tuple(int(v) for v in rng.integers(-3, 4, size=3))
        risk, los = net(pre_input(train, idx, offset).to(device), post_input(train, idx, offset).to(device))
        t = torch.from_numpy(train.os_months[idx]).to(device)
        e = torch.from_numpy(train.event[idx]).to(device)
        target = (torch.log(t.clamp(min=0.1)) - mu) / sd
        err = los[:, 0] - target
        os_loss = torch.where(e > 0, err**2, torch.relu(-err) ** 2).mean()
        loss = cox_loss(risk[:, 0], t, e) + 0.5 * os_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            c = c_index(predict_risk(net, val, device), val.os_months, val.event)
            if c > best:
                best, best_state = c, copy.deepcopy(net.state_dict())
            log(model="heuristic", step=step, loss=round(loss.item(), 4), valC=round(c, 4))
        step += 1
    if best_state is not None:
        net.load_state_dict(best_state)
    risk = predict_risk(net, val, device)
    quality = {
        "heldOutCases": len(val),
        "cIndex": round(c_index(risk, val.os_months, val.event), 4),
        "ceilingRealisedRiskCIndex": round(c_index(np.array([t.get("realisedRisk", 0.0) for t in val.truth]), val.os_months, val.event), 4),
        "coxWeights": dict(zip(M.MeasuredSurvivalNet.FEATURES, [round(float(w), 4) for w in net.cox.weight[0]])),
        "steps": step,
        "logOsStandardisation": {"mean": mu, "sd": sd},
    }
    return net.eval(), quality


@torch.no_grad()
def predict_risk(net, d: Patches, device) -> np.ndarray:
    net.eval()
    out = []
    for s in range(0, len(d), 64):
        idx = np.arange(s, min(len(d), s + 64))
        risks = [net(pre_input(d, idx, o).to(device), post_input(d, idx, o).to(device))[0][:, 0].cpu().numpy() for o in CROP_OFFSETS]
        out.append(np.mean(risks, axis=0))
    net.train()
    return np.concatenate(out)


# ---------------------------------------------------------------------------------------------
# Export


def data_note(d: Patches, seed_note: str) -> str:
    return f"{len(d)} synthetic patients ({seed_note}), one protocol each (the synthetic physician's), patches cut by training/export-patches.ts"


def check_dynamic_batch(path: Path, module, inputs: dict) -> None:
    """The exported graph at batch 3 against the training module (the parity file records batch 2)."""
    import onnxruntime as ort

    three = {k: torch.cat([v, v[:1]]) for k, v in inputs.items()}
    with torch.no_grad():
        want = module(*three.values()).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {k: v.numpy() for k, v in three.items()})[0]
    error = float(np.max(np.abs(got - want)))
    if error > 1e-4:
        raise RuntimeError(f"{path.name}: batch-3 output differs from the training module by {error}")
    log(stage="export", graph=path.name, batch3MaxAbsError=error)


def export_denoiser(path: Path, den: M.ResponseDenoiser, C: int, p: int, P: int, g: torch.Generator) -> dict:
    """The shipping export of the denoiser: its onnxruntime form (`models.for_onnxruntime`:
    Conv3d as depth-stacked Conv2d, Resize-free upsampling, static shapes), parity recorded
    against the trained module itself (batch 2, ≤ 1e-4 checked by the tests) and checked at batch 3."""
    den = den.cpu().eval()
    den_inputs = {
        "noisy_latent": torch.randn((2, C, p, p, p), generator=g),
        "timestep": torch.tensor([999.0, 10.0]),
        "masked_latent": torch.randn((2, C, p, p, p), generator=g),
        "mask": (torch.rand((2, 1, P, P, P), generator=g) > 0.7).float(),
        "response": torch.tensor([[0.8, 0.5, 0.3, 0.2, -8.0], [0.6, 0.2, 0.4, 0.4, -15.0]]),
    }
    dyn = {k: {0: "batch"} for k in den_inputs}
    dyn["noise"] = {0: "batch"}
    record = export_graph(M.for_onnxruntime(den), den_inputs, ["noise"], path, dyn, reference_module=den)
    error = max(record["maxAbsErrorOnnxruntimePython"].values())
    if error > 1e-4:
        raise RuntimeError(f"{path.name}: onnxruntime differs from the trained module by {error}")
    log(stage="export", graph=path.name, batch2MaxAbsError=error)
    check_dynamic_batch(path, den, den_inputs)
    return record


def export_dynamics(out: Path, base: Path, head, den, quality: dict, train_cases: int, note: str, config: dict, version: str = VERSION) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    base_manifest = json.loads((base / "manifest.json").read_text())
    base_parity = json.loads((base / base_manifest.get("parityFile", "parity.json")).read_text())["graphs"]
    for g in ("encoder", "decoder"):
        shutil.copyfile(base / base_manifest["graphs"][g]["file"], out / base_manifest["graphs"][g]["file"])
    ids = agent_ids()
    P = PATCH
    C = base_manifest["latent"]["channels"]
    p = P // base_manifest["latent"]["downsample"]
    A = len(ids)
    g = torch.Generator().manual_seed(1)
    concepts = torch.zeros((2, A))
    concepts[0, ids.index("cisplatin")] = concepts[0, ids.index("lipiodol")] = 1
    concepts[1, ids.index("raltitrexed")] = concepts[1, ids.index("epirubicin")] = concepts[1, ids.index("gelatin-sponge")] = 1
    pre = torch.cat([torch.rand((2, 1, P, P, P), generator=g) * 2 - 1, (torch.rand((2, 2, P, P, P), generator=g) > 0.6).float()], dim=1)
    head, den = head.cpu().eval(), den.cpu().eval()
    parity = {g_: base_parity[g_] for g_ in ("encoder", "decoder")}
    parity["response"] = export_graph(head, {"pre": pre, "action_concepts": concepts}, ["response"], out / "response.onnx", {"pre": {0: "batch"}, "action_concepts": {0: "batch"}, "response": {0: "batch"}})
    parity["denoiser"] = export_denoiser(out / "denoiser.onnx", den, C, p, P, g)
    graphs = {
        "encoder": base_manifest["graphs"]["encoder"],
        "decoder": base_manifest["graphs"]["decoder"],
        "response": {
            "file": "response.onnx",
            "inputs": [
                spec("pre", ["batch", 3, P, P, P], "pre-CT patch (intensity range), its liver mask and tumour mask (0..1)"),
                spec("action_concepts", ["batch", A], "multi-hot over action.agents"),
            ],
            "outputs": [spec("response", ["batch", 5], "expected post-CT measurements, action.responseFields order")],
        },
        "denoiser": {
            "file": "denoiser.onnx",
            "inputs": [
                spec("noisy_latent", ["batch", C, p, p, p]),
                spec("timestep", ["batch"], "training timestep t as float"),
                spec("masked_latent", ["batch", C, p, p, p], "latent of the pre-CT with the tumour masked out"),
                spec("mask", ["batch", 1, P, P, P], "tumour mask of the pre-CT, 0..1"),
                spec("response", ["batch", 5], "the response graph's output for this action"),
            ],
            "outputs": [spec("noise", ["batch", C, p, p, p], "predicted epsilon")],
        },
    }
    common = CommonConfig()
    return write_model(
        out,
        role="dynamics",
        name="mewm-dynamics-demo",
        version=version,
        description=(
            "Response-conditioned latent diffusion: the 0.2 KL autoencoder (graphs unchanged), a response head "
            "(per-agent concept embeddings x a pre-CT patient vector -> expected volume ratio, viable / necrosis / "
            "Lipiodol shares, liver HU shift) and a 3D U-Net denoiser FiLM-conditioned on that response. "
            "Trained on CPU on synthetic patients; see quality."
        ),
        common=common,
        graphs=graphs,
        parity=parity,
        training={"data": note, "cases": train_cases, "seed": common.seed, "config": config},
        quality=quality,
        extra={
            "latent": base_manifest["latent"],
            "scheduler": base_manifest["scheduler"],
            "action": {"agents": ids, "maxAgents": base_manifest["action"]["maxAgents"], "conditioning": "response", "responseFields": list(M.RESPONSE_FIELDS)},
        },
    )


def export_response_head(out: Path, base: Path, head, quality: dict, train_cases: int, note: str, config: dict, version: str) -> None:
    """`base` (a dynamics folder) copied to `out` with `head` as its response graph."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out)
    manifest = json.loads((out / "manifest.json").read_text())
    ids = agent_ids()
    P = manifest["patchSizeZyx"][0]
    g = torch.Generator().manual_seed(1)
    concepts = torch.zeros((2, len(ids)))
    concepts[0, ids.index("cisplatin")] = concepts[0, ids.index("lipiodol")] = 1
    concepts[1, ids.index("raltitrexed")] = concepts[1, ids.index("epirubicin")] = concepts[1, ids.index("gelatin-sponge")] = 1
    pre = torch.cat([torch.rand((2, 1, P, P, P), generator=g) * 2 - 1, (torch.rand((2, 2, P, P, P), generator=g) > 0.6).float()], dim=1)
    spec_ = manifest["graphs"]["response"]
    record = export_graph(head.cpu().eval(), {"pre": pre, "action_concepts": concepts}, ["response"], out / spec_["file"], {"pre": {0: "batch"}, "action_concepts": {0: "batch"}, "response": {0: "batch"}})
    record_parity(out, manifest, "response", record)
    old_version = manifest["version"]
    manifest["version"] = version
    spec_["sha256"] = sha256_file(out / spec_["file"])
    manifest["description"] = manifest["description"].split(" 0.3.1:")[0] + (
        f" {version}: the {old_version} autoencoder and denoiser with a new response head (training/structured.py response-head,"
        f" {quality['steps']} steps, viable-ratio loss weight {config.get('viable_ratio_weight', 0):g}). Not for clinical use."
    )
    manifest["quality"] = dict(manifest["quality"], response=quality)
    manifest["training"]["responseHead"] = {"data": note, "cases": train_cases, "config": config, "note": "synthetic data, not for clinical use"}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(stage="manifest", path=str(out / "manifest.json"), version=version, sha256=spec_["sha256"])


def export_heuristic(out: Path, net, quality: dict, train_cases: int, note: str, config: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    P = PATCH
    g = torch.Generator().manual_seed(2)
    make = lambda: torch.cat([torch.rand((2, 1, P, P, P), generator=g) * 2 - 1, (torch.rand((2, 2, P, P, P), generator=g) > 0.6).float()], dim=1)  # noqa: E731
    inputs = {"pre": make(), "post": make()}
    parity = {"survival": export_graph(net.cpu().eval(), inputs, ["risk", "log_os"], out / "survival.onnx", {"pre": {0: "batch"}, "post": {0: "batch"}, "risk": {0: "batch"}, "log_os": {0: "batch"}})}
    graphs = {
        "survival": {
            "file": "survival.onnx",
            "inputs": [
                spec("pre", ["batch", 3, P, P, P], "pre-CT (intensity range), its liver mask and tumour mask"),
                spec("post", ["batch", 3, P, P, P], "post-CT, its liver mask and tumour mask"),
            ],
            "outputs": [spec("risk", ["batch", 1], "Cox log-risk, lower is better"), spec("log_os", ["batch", 1], "standardised log overall survival")],
        }
    }
    common = CommonConfig()
    return write_model(
        out,
        role="heuristic",
        name="mewm-heuristic-demo",
        version=VERSION,
        description=(
            "Survival heuristic: features measured in the graph on the post-CT (viable / Lipiodol / necrotic / residual "
            "volume inside the post tumour mask, liver attenuation shift) plus a pre-CT CNN prognosis; Cox + OS regression."
        ),
        common=common,
        graphs=graphs,
        parity=parity,
        training={"data": note, "cases": train_cases, "seed": common.seed, "config": config},
        quality=quality,
        extra={"crops": len(CROP_OFFSETS), "cropOffsetsXyz": [list(o) for o in CROP_OFFSETS], "inputChannels": ["ct", "liver", "tumour"]},
    )


def reexport_dynamics(out: Path, base: Path) -> None:
    """Exports the graphs again from `OUT-dynamics-checkpoint.pt`, keeping the manifest's training
    record and quality (after an export change, e.g. the denoiser's Conv3dAs2d layout)."""
    manifest = json.loads((out / "dynamics" / "manifest.json").read_text())
    state = torch.load(out.parent / f"{out.name}-dynamics-checkpoint.pt")
    base_manifest = json.loads((base / "manifest.json").read_text())
    head = M.ResponseHead(len(agent_ids()), ch=16, dim=48)
    head.load_state_dict(state["response"])
    den = M.ResponseDenoiser(base_manifest["latent"]["channels"], ch=32, cond_dim=48, downsample=base_manifest["latent"]["downsample"])
    den.load_state_dict(state["denoiser"])
    t = manifest["training"]
    export_dynamics(out / "dynamics", base, head, den, manifest["quality"], t["cases"], t["data"], t["config"])


# ---------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["dynamics", "heuristic", "all", "reexport-dynamics", "finetune-denoiser", "guided-denoiser", "response-head"])
    ap.add_argument("--viable-ratio-weight", type=float, default=0.0, help="response heads: weight of the MSE on volume ratio x viable share")
    ap.add_argument("--head-patient", choices=["cnn", "measured"], default="cnn", help="response-head: the patient vector from a CNN + measured features, or the measured features alone")
    ap.add_argument("--cond-dropout", type=float, default=0.15, help="guided-denoiser: share of samples trained without the response")
    ap.add_argument("--checkpoint", type=Path, help="finetune-denoiser: the dynamics checkpoint to continue (response head kept)")
    ap.add_argument("--tumour-weight", type=float, default=1.0, help="ε-loss weight of the tumour's latent voxels")
    ap.add_argument("--lr-denoiser", type=float, default=1e-3)
    ap.add_argument("--version", default=VERSION)
    ap.add_argument("--patches", required=True, type=Path)
    ap.add_argument("--base", type=Path, default=Path("models/demo"), help="model folder whose dynamics autoencoder is kept")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--minutes-response", type=float, default=10)
    ap.add_argument("--minutes-denoiser", type=float, default=60)
    ap.add_argument("--minutes-heuristic", type=float, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--data-note", default="cohort seed 20261207")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    if args.what == "reexport-dynamics":
        reexport_dynamics(args.out, args.base / "dynamics")
        return
    rng = np.random.default_rng(args.seed)
    device = torch.device(args.device)
    data = load_patches(args.patches, args.limit)
    train_idx, held = split_indices(data)
    train, val = data.subset(train_idx), data.subset(held)
    note = data_note(data, args.data_note)
    log(stage="data", train=len(train), heldOut=len(val))
    config = {k: v for k, v in vars(args).items() if k not in ("patches", "base", "out", "what")}
    config = json.loads(json.dumps(config, default=str))
    if args.what in ("dynamics", "all"):
        base = args.base / "dynamics"
        base_manifest = json.loads((base / "manifest.json").read_text())
        head, rq = train_response(train, val, args.minutes_response, rng, device)
        log(model="dynamics", stage="response", quality=rq)
        post_z, masked_z = encode_latents(base / base_manifest["graphs"]["encoder"]["file"], data, args.threads)
        den, steps = train_denoiser(train.subset(np.arange(len(train))), post_z[train_idx], masked_z[train_idx], base_manifest, args.minutes_denoiser, rng, device)
        torch.save({"response": head.state_dict(), "denoiser": den.state_dict()}, args.out.parent / f"{args.out.name}-dynamics-checkpoint.pt")
        dq = evaluate_dynamics(head, den, base / base_manifest["graphs"]["decoder"]["file"], val, masked_z[held], base_manifest, device)
        quality = {"response": rq, "simulation": dq, "denoiserSteps": steps}
        log(model="dynamics", quality=quality)
        export_dynamics(args.out / "dynamics", base, head, den, quality, len(train), note, config)
    if args.what == "finetune-denoiser":
        base = args.base / "dynamics"
        base_manifest = json.loads((base / "manifest.json").read_text())
        state = torch.load(args.checkpoint)
        head = M.ResponseHead(len(agent_ids()), ch=16, dim=48)
        head.load_state_dict(state["response"])
        post_z, masked_z = encode_latents(base / base_manifest["graphs"]["encoder"]["file"], data, args.threads)
        den, steps = train_denoiser(train, post_z[train_idx], masked_z[train_idx], base_manifest, args.minutes_denoiser, rng, device,
                                    init_state=state["denoiser"], lr=args.lr_denoiser, tumour_weight=args.tumour_weight)
        torch.save({"response": head.state_dict(), "denoiser": den.state_dict()}, args.out.parent / f"{args.out.name}-dynamics-checkpoint.pt")
        dq = evaluate_dynamics(head.to(device), den, base / base_manifest["graphs"]["decoder"]["file"], val, masked_z[held], base_manifest, device)
        quality = dict(json.loads((base / "manifest.json").read_text())["quality"], simulation=dq, denoiserFineTune={"from": str(args.checkpoint.name), "steps": steps, "tumourWeight": args.tumour_weight})
        log(model="dynamics", quality=quality)
        export_dynamics(args.out / "dynamics", base, head, den, quality, len(train), note, config, version=args.version)
    if args.what == "response-head":
        # A new response head on the base dynamics (autoencoder and denoiser unchanged: the denoiser
        # was trained on measured responses, so any head's outputs condition it); OUT/dynamics is
        # the base folder with response.onnx, parity and the manifest's quality replaced.
        base = args.base / "dynamics"
        head, rq = train_response(train, val, args.minutes_response, rng, device, args.viable_ratio_weight, args.head_patient)
        log(model="dynamics", stage="response", quality=rq)
        export_response_head(args.out / "dynamics", base, head, rq, len(train), note, config, args.version)
    if args.what == "guided-denoiser":
        # Continues the shipped denoiser (rebuilt from its graph; the response head and the
        # autoencoder stay as shipped) with the response dropped for --cond-dropout of the samples;
        # OUT is the checkpoint, exported with a guidance scale by training/export_guided.py.
        from .reexport_denoiser import torch_denoiser

        base = args.base / "dynamics"
        base_manifest = json.loads((base / "manifest.json").read_text())
        graph = base / base_manifest["graphs"]["denoiser"]["file"]
        init = torch_denoiser(graph, base_manifest["latent"]["channels"], base_manifest["latent"]["downsample"]).state_dict()
        post_z, masked_z = encode_latents(base / base_manifest["graphs"]["encoder"]["file"], data, args.threads)
        log(stage="latents", cases=len(data))
        den, steps = train_denoiser(train, post_z[train_idx], masked_z[train_idx], base_manifest, args.minutes_denoiser, rng, device,
                                    init_state=init, lr=args.lr_denoiser, tumour_weight=args.tumour_weight, cond_dropout=args.cond_dropout)
        torch.save({"denoiser": den.state_dict(), "steps": steps, "trainCases": len(train), "note": note, "config": config,
                    "from": f"{base_manifest['name']} {base_manifest['version']} denoiser sha256 {base_manifest['graphs']['denoiser']['sha256']}"}, args.out)
        log(stage="saved", checkpoint=str(args.out), steps=steps)
    if args.what in ("heuristic", "all"):
        net, hq = train_heuristic(train, val, args.minutes_heuristic, rng, device)
        log(model="heuristic", quality=hq)
        export_heuristic(args.out / "heuristic", net, hq, len(train), note, config)


if __name__ == "__main__":
    main()
