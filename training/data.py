"""Training data: the synthetic cohort written by `mewm synth`, or a tiny stand-in for smoke runs.

Cohort layout: `DIR/manifest.jsonl` (one JSON object per case) and
`DIR/cases/<caseId>/{pre-ct,pre-labels,post-ct,post-labels}.nii.gz` plus `report.txt`.
Arrays here are numpy `[Z, Y, X]` (nibabel's `[X, Y, Z]` transposed) so that they match the
ONNX layout `[N, C, Z, Y, X]`; spacing is `(x, y, z)` mm. CT in HU, labels 0/1/2.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from .config import CommonConfig


@dataclass
class Case:
    case_id: str
    pre_ct: np.ndarray
    pre_labels: np.ndarray
    post_ct: np.ndarray
    post_labels: np.ndarray
    spacing_xyz: tuple[float, float, float]
    agents: list[str]
    os_months: float
    event: int
    report: str
    # Fractions of the pre-treatment tumour volume that are viable / lipiodol / necrosis after
    # treatment, when the world records them (else None).
    truth: dict | None = None
    split: str | None = None
    level: int | None = None


def _first(obj: dict, *keys, default=None):
    for k in keys:
        cur = obj
        ok = True
        for part in k.split("."):
            if isinstance(cur, dict) and part in cur:
                cur = cur[part]
            else:
                ok = False
                break
        if ok:
            return cur
    return default


def _read_nifti(path: Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    import nibabel as nib

    if not path.exists():
        raise ValueError(f"cohort file {path} is missing")
    img = nib.load(str(path))
    data = np.asarray(img.dataobj)
    spacing = tuple(float(s) for s in np.sqrt((img.affine[:3, :3] ** 2).sum(axis=0)))
    return np.ascontiguousarray(data.transpose(2, 1, 0)), spacing  # [Z, Y, X]


def load_cohort(directory: str | Path, limit: int | None = None) -> list[Case]:
    root = Path(directory)
    manifest = root / "manifest.jsonl"
    if not manifest.exists():
        raise ValueError(f"{manifest} is missing: write a cohort with `mewm synth --out {root}`")
    truth_path = root / "truth.jsonl"
    truths = {}
    if truth_path.exists():
        for line in truth_path.read_text().splitlines():
            if line.strip():
                t = json.loads(line)
                truths[t["caseId"]] = t
    cases = []
    for line in manifest.read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        case_id = _first(entry, "caseId", "case_id")
        if not case_id:
            raise ValueError(f"{manifest}: a line has no caseId")
        folder = root / "cases" / case_id
        path = lambda key, default: root / entry[key] if key in entry else folder / default  # noqa: E731
        pre_ct, spacing = _read_nifti(path("preCt", "pre-ct.nii.gz"))
        pre_labels, _ = _read_nifti(path("preLabels", "pre-labels.nii.gz"))
        post_ct, _ = _read_nifti(path("postCt", "post-ct.nii.gz"))
        post_labels, _ = _read_nifti(path("postLabels", "post-labels.nii.gz"))
        truth = truths.get(case_id, {})
        protocol = _first(entry, "protocol", "treatment.protocol", "actualProtocol", default={}) or {}
        agents = list(protocol.get("drugs", [])) + list(protocol.get("embolics", []))
        report_path = path("report", "report.txt")
        cases.append(
            Case(
                case_id=case_id,
                pre_ct=pre_ct.astype(np.float32),
                pre_labels=pre_labels.astype(np.uint8),
                post_ct=post_ct.astype(np.float32),
                post_labels=post_labels.astype(np.uint8),
                spacing_xyz=spacing,
                agents=agents,
                os_months=float(_first(entry, "osMonths", "survival.osMonths", "outcome.osMonths", default=float("nan"))),
                event=int(_first(entry, "event", "survival.event", "outcome.event", default=0)),
                report=report_path.read_text() if report_path.exists() else "",
                # World truth (truth.jsonl) is used for the attenuation level and for evaluation only.
                truth=truth.get("response"),
                split=entry.get("split"),
                level=truth.get("attenuationLevel"),
            )
        )
        if limit and len(cases) >= limit:
            break
    if not cases:
        raise ValueError(f"{manifest} lists no cases")
    return cases


def synthetic_standin_cohort(n: int, seed: int, shape=(40, 64, 64), spacing=(3.0, 3.0, 3.0)) -> list[Case]:
    """A tiny stand-in world for smoke tests only (ellipsoid liver, spherical tumour, a response
    that depends on the agents). Not the project's synthetic world; never used for shipped
    weights when a real cohort is given."""
    from .text_features import load_vocabulary

    vocab = load_vocabulary()
    drugs = [a["id"] for a in vocab if a["phase"] == "drug"]
    embolics = [a["id"] for a in vocab if a["phase"] == "embolic"]
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in shape], indexing="ij")
    cases = []
    for i in range(n):
        c = np.array(shape, dtype=np.float32) / 2 + rng.uniform(-3, 3, 3)
        liver = ((zz - c[0]) / (shape[0] * 0.35)) ** 2 + ((yy - c[1]) / (shape[1] * 0.38)) ** 2 + ((xx - c[2]) / (shape[2] * 0.4)) ** 2 < 1
        tc = c + rng.uniform(-4, 4, 3)
        radius = rng.uniform(3.5, 7)
        dist = np.sqrt((zz - tc[0]) ** 2 + (yy - tc[1]) ** 2 + (xx - tc[2]) ** 2)
        tumour = (dist < radius) & liver
        pre = np.full(shape, -100.0, np.float32)
        pre[liver] = 60
        pre[tumour] = 110
        pre += rng.normal(0, 10, shape).astype(np.float32)
        labels = np.zeros(shape, np.uint8)
        labels[liver] = 1
        labels[tumour] = 2
        agents = [str(rng.choice(drugs))] + [str(rng.choice(embolics))]
        strength = 0.3 + 0.5 * (agents[-1] in ("lipiodol", "drug-eluting-beads")) + 0.2 * rng.uniform()
        new_radius = radius * (1 - 0.5 * strength)
        post = pre.copy()
        post[tumour] = 20  # necrosis
        viable = dist < new_radius
        post[viable & liver] = 100
        if "lipiodol" in agents:
            post[tumour & (dist > new_radius) & (rng.uniform(size=shape) < 0.6)] = 450
        post_labels = labels.copy()
        post_labels[tumour & ~viable] = 1
        risk = 1.0 - strength + 0.05 * radius
        os_months = float(rng.exponential(30 * math.exp(-risk)))
        event = int(rng.uniform() < 0.8)
        cases.append(
            Case(f"standin-{i:03d}", pre, labels, post, post_labels, spacing, agents, os_months, event, "",
                 {"viable": float((viable & tumour).sum() / max(tumour.sum(), 1))})
        )
    return cases


def resample(volume: np.ndarray, spacing_xyz, target_mm: float, order: int) -> np.ndarray:
    zoom = [spacing_xyz[2] / target_mm, spacing_xyz[1] / target_mm, spacing_xyz[0] / target_mm]
    if all(abs(z - 1) < 1e-6 for z in zoom):
        return volume
    return ndimage.zoom(volume, zoom, order=order, mode="nearest", grid_mode=False)


def normalise(hu: np.ndarray, common: CommonConfig) -> np.ndarray:
    lo, hi = common.window_hu
    a, b = common.value_range
    return (a + (np.clip(hu, lo, hi) - lo) / (hi - lo) * (b - a)).astype(np.float32)


def crop(volume: np.ndarray, centre_zyx, size: int, fill: float) -> np.ndarray:
    out = np.full((size, size, size), fill, dtype=volume.dtype)
    start = [int(round(c)) - size // 2 for c in centre_zyx]
    src = [slice(max(s, 0), min(s + size, n)) for s, n in zip(start, volume.shape)]
    dst = [slice(sl.start - s, sl.stop - s) for sl, s in zip(src, start)]
    if all(sl.stop > sl.start for sl in src):
        out[tuple(dst)] = volume[tuple(src)]
    return out


def tumour_centre(labels: np.ndarray) -> np.ndarray:
    idx = np.argwhere(labels == 2)
    if len(idx) == 0:
        idx = np.argwhere(labels >= 1)
    if len(idx) == 0:
        return np.array(labels.shape, dtype=np.float64) / 2
    return idx.mean(axis=0)


@dataclass
class PreparedCase:
    """A case on the model grid (target spacing), normalised, labels kept."""
    case_id: str
    pre: np.ndarray
    pre_labels: np.ndarray
    post: np.ndarray
    post_labels: np.ndarray
    centre: np.ndarray
    agents: list[str]
    os_months: float
    event: int
    level: int
    truth: dict | None
    split: str | None = None


def attenuation_level(case: Case, pre_labels: np.ndarray, post_labels: np.ndarray) -> int:
    """Paper's l ∈ {1..4} (higher = better curative effect): from report words when present,
    else from how much of the pre-treatment tumour is still labelled tumour after treatment."""
    text = case.report.lower()
    for level, words in ((4, ("disappear", "complete response", "no residual")), (3, ("occluded", "occlusion", "largely necrotic")), (2, ("reduced", "partial")), (1, ("stable", "progress"))):
        if any(w in text for w in words):
            return level
    pre_t = max(int((pre_labels == 2).sum()), 1)
    ratio = float((post_labels == 2).sum()) / pre_t
    return 1 if ratio > 0.85 else 2 if ratio > 0.6 else 3 if ratio > 0.3 else 4


def prepare(cases: list[Case], common: CommonConfig, margin: int = 8) -> list[PreparedCase]:
    out = []
    size = common.patch + 2 * margin
    for case in cases:
        pre = resample(case.pre_ct, case.spacing_xyz, common.spacing_mm, 1)
        post = resample(case.post_ct, case.spacing_xyz, common.spacing_mm, 1)
        pl = resample(case.pre_labels, case.spacing_xyz, common.spacing_mm, 0)
        ql = resample(case.post_labels, case.spacing_xyz, common.spacing_mm, 0)
        centre = tumour_centre(pl)
        prepared = PreparedCase(
            case.case_id,
            normalise(crop(pre, centre, size, -1000.0), common),
            crop(pl, centre, size, 0),
            normalise(crop(post, centre, size, -1000.0), common),
            crop(ql, centre, size, 0),
            np.array([size / 2] * 3),
            case.agents,
            case.os_months,
            case.event,
            case.level if case.level in (1, 2, 3, 4) else attenuation_level(case, pl, ql),
            case.truth,
            case.split,
        )
        out.append(prepared)
    return out


def split(cases: list, val_fraction: float, seed: int) -> tuple[list, list]:
    """The cohort's own split when it has one (train vs val; test added when val is tiny; the
    test split is otherwise left for `mewm evaluate`), else a seeded random split."""
    if all(getattr(c, "split", None) in ("train", "val", "test") for c in cases):
        train = [c for c in cases if c.split == "train"]
        held = [c for c in cases if c.split == "val"]
        if len(held) < 8:
            held += [c for c in cases if c.split == "test"]
        if train and held:
            return train, held
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(cases))
    n_val = max(1, int(round(len(cases) * val_fraction))) if len(cases) > 1 else 0
    val = [cases[i] for i in order[:n_val]]
    train = [cases[i] for i in order[n_val:]]
    return train, val


def random_patch(case: PreparedCase, patch: int, rng: np.random.Generator, jitter: int):
    """Crops `patch`³ around the tumour centre (± jitter voxels) from every array of the case."""
    size = case.pre.shape[0]
    c = size // 2 + rng.integers(-jitter, jitter + 1, 3)
    s = [int(x) - patch // 2 for x in c]
    sl = tuple(slice(a, a + patch) for a in s)
    return case.pre[sl], case.pre_labels[sl], case.post[sl], case.post_labels[sl]
