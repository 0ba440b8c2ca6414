"""Frozen training configurations. Each is saved with its checkpoint and copied into the model
manifest (`training.config`), so a model folder says exactly how it was made. Variants are
configuration (flags), not subclasses.

Preprocessing constants (intensity window, patch size, spacing, labels) live here and are
written into the manifest; the TypeScript runtime reads them from the manifest only.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

INTENDED_USE = "synthetic data, not for clinical use"
LABELS = {"background": 0, "liver": 1, "tumour": 2}


@dataclass(frozen=True)
class CommonConfig:
    # Demo size: 32^3 voxels at 3 mm (a 96 mm field) so each model trains in minutes on one CPU
    # thread; the paper's size is 96^3 at 1 mm (`--paper-size`).
    patch: int = 32
    spacing_mm: float = 3.0
    window_hu: tuple[float, float] = (-175.0, 600.0)
    value_range: tuple[float, float] = (-1.0, 1.0)
    seed: int = 20261126
    threads: int = 1
    val_fraction: float = 0.2


@dataclass(frozen=True)
class DynamicsConfig:
    common: CommonConfig = field(default_factory=CommonConfig)
    latent_channels: int = 8
    downsample: int = 4
    ae_channels: int = 16
    ae_steps: int = 800
    ae_kl_weight: float = 1e-4
    # Reconstruction L1 weight inside the (1-voxel dilated) pre-treatment tumour, relative to 1
    # elsewhere: the tumour is ~3% of a patch, and its viable / Lipiodol / necrosis texture is
    # what the dynamics must reproduce (0 = plain L1).
    ae_tumour_weight: float = 20.0
    # Weight of the tumour intensity-distribution term (1-D Wasserstein, `tumour_distribution_loss`).
    ae_distribution_weight: float = 1.0
    # Share of post-treatment patches in the autoencoder's batches (the decoder renders posts).
    ae_post_share: float = 0.75
    # One-cycle learning-rate schedule (warm-up then cosine decay) for the autoencoder.
    ae_one_cycle: bool = True
    denoiser_channels: int = 32
    action_dim: int = 32
    text_dim: int = 64
    max_agents: int = 4
    diffusion_steps: int = 1000
    beta_schedule: str = "linear"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    denoiser_steps: int = 2000
    # ε-loss weight on latent voxels that overlap the pre-treatment tumour, relative to 1 elsewhere
    # (4 was tried on the demo cohort: the denoiser then ignored the action, ratio 0.04).
    denoiser_tumour_weight: float = 0.0
    batch_size: int = 8
    lr: float = 1e-3
    attenuation: bool = True
    contrastive: bool = True
    action_text: bool = True
    contrastive_weight: float = 0.1
    contrastive_temperature: float = 0.1


@dataclass(frozen=True)
class AssistantConfig:
    common: CommonConfig = field(default_factory=CommonConfig)
    channels: int = 8
    pretrain_steps: int = 300
    finetune_steps: int = 300
    batch_size: int = 4
    lr: float = 2e-3
    overlap: float = 0.5
    sigma_scale: float = 0.125


@dataclass(frozen=True)
class HeuristicConfig:
    common: CommonConfig = field(default_factory=CommonConfig)
    channels: int = 16
    heads: int = 4
    steps: int = 600
    batch_size: int = 16
    lr: float = 1e-3
    os_weight: float = 0.5
    crops: int = 5
    crop_jitter: int = 3


def to_dict(cfg) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def paper_size(common: CommonConfig) -> CommonConfig:
    return dataclasses.replace(common, patch=96, spacing_mm=1.0)
