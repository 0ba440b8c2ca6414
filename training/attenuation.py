"""Text-driven Morpho-Gaussian Attenuation of the conditioning tumour mask (paper §3.2).

Given the tumour mask m0 `[N, 1, Z, Y, X]` (0/1) and the attenuation level l ∈ {1, 2, 3, 4}
read from the report (higher = better curative effect):
1. morphology: a closing-like smoothing (dilation by 1 voxel) followed by an erosion whose
   radius grows with l (l − 1 voxels): the occluded tumour shrinks;
2. adaptive Gaussian blur with σ = 0.5·l voxels: heterogeneous intensity change at the border
   (lipiodol deposition, necrosis, reduced perfusion);
3. clip to [0, 1]: a soft mask m0' with a smooth tumour-to-organ transition.
Training only; inference conditions on the unattenuated mask. Level 0 means "no attenuation".
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    if radius <= 0:
        return mask
    return F.max_pool3d(mask, 2 * radius + 1, stride=1, padding=radius)


def erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    if radius <= 0:
        return mask
    return -F.max_pool3d(-mask, 2 * radius + 1, stride=1, padding=radius)


def gaussian_blur3d(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0:
        return x
    radius = max(1, int(math.ceil(3 * sigma)))
    coords = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-(coords**2) / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    out = x
    for axis in range(3):
        shape = [1, 1, 1, 1, 1]
        shape[2 + axis] = kernel.numel()
        pad = [0, 0, 0, 0, 0, 0]
        pad[2 * (2 - axis)] = radius
        pad[2 * (2 - axis) + 1] = radius
        out = F.conv3d(F.pad(out, pad, mode="replicate"), kernel.reshape(shape))
    return out


def attenuate(mask: torch.Tensor, level: int) -> torch.Tensor:
    """One level for the whole batch; returns a soft mask of the same shape."""
    if level not in (0, 1, 2, 3, 4):
        raise ValueError(f"attenuation level must be 0..4, got {level}")
    if level == 0:
        return mask
    shaped = erode(dilate(mask, 1), level - 1)
    return gaussian_blur3d(shaped, 0.5 * level).clamp(0.0, 1.0)
