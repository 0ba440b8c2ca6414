"""Networks of the three learned models. All take and return `[N, C, Z, Y, X]` tensors.

Sizes are set by the frozen configs in `config.py`; every module exports to ONNX (opset 17)
with the graph input/output names listed in `export.py`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, ch), ch)


class ResBlock(nn.Module):
    """Conv-GN-SiLU ×2 with a residual; optional FiLM (scale, shift) from a conditioning vector."""

    def __init__(self, cin: int, cout: int, cond_dim: int = 0):
        super().__init__()
        self.n1, self.c1 = norm(cin), nn.Conv3d(cin, cout, 3, padding=1)
        self.n2, self.c2 = norm(cout), nn.Conv3d(cout, cout, 3, padding=1)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()
        self.film = nn.Linear(cond_dim, 2 * cout) if cond_dim else None

    def forward(self, x, cond=None):
        h = self.c1(F.silu(self.n1(x)))
        h = self.n2(h)
        if self.film is not None:
            scale, shift = self.film(cond).chunk(2, dim=1)
            h = h * (1 + scale[:, :, None, None, None]) + shift[:, :, None, None, None]
        h = self.c2(F.silu(h))
        return h + self.skip(x)


# ---------------------------------------------------------------------------------------------
# Dynamics: KL autoencoder + action-conditioned latent denoiser


class Encoder(nn.Module):
    def __init__(self, ch: int, latent: int, downsample: int):
        super().__init__()
        layers = [nn.Conv3d(1, ch, 3, padding=1)]
        c = ch
        for _ in range(int(math.log2(downsample))):
            layers += [ResBlock(c, c), nn.Conv3d(c, c * 2, 3, stride=2, padding=1)]
            c *= 2
        layers += [ResBlock(c, c), norm(c), nn.SiLU(), nn.Conv3d(c, 2 * latent, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        mean, logvar = self.net(x).chunk(2, dim=1)
        return mean, logvar.clamp(-20, 10)


class Decoder(nn.Module):
    def __init__(self, ch: int, latent: int, downsample: int):
        super().__init__()
        levels = int(math.log2(downsample))
        c = ch * 2**levels
        layers = [nn.Conv3d(latent, c, 3, padding=1), ResBlock(c, c)]
        for _ in range(levels):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv3d(c, c // 2, 3, padding=1), ResBlock(c // 2, c // 2)]
            c //= 2
        layers += [norm(c), nn.SiLU(), nn.Conv3d(c, 1, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class KLAutoencoder(nn.Module):
    def __init__(self, ch: int, latent: int, downsample: int):
        super().__init__()
        self.encoder = Encoder(ch, latent, downsample)
        self.decoder = Decoder(ch, latent, downsample)
        self.register_buffer("scale", torch.tensor(1.0))

    def forward(self, x):
        mean, logvar = self.encoder(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        return self.decoder(z), mean, logvar


class ScaledEncoder(nn.Module):
    """Export wrapper: image in [-1, 1] → scaled latent mean (unit variance on the training set)."""

    def __init__(self, ae: KLAutoencoder):
        super().__init__()
        self.ae = ae

    def forward(self, image):
        return self.ae.encoder(image)[0] * self.ae.scale


class ScaledDecoder(nn.Module):
    def __init__(self, ae: KLAutoencoder):
        super().__init__()
        self.ae = ae

    def forward(self, latent):
        return self.ae.decoder(latent / self.ae.scale)


class ActionEncoder(nn.Module):
    """Eq. 1: τ(a) = σ2([[σ1(φ(a_1)), …, σ1(φ(a_H))], c]).

    φ(a_i): bundled hashed n-gram text features of sub-action i (`action_text`, `[N, H, F]`,
    zero rows beyond the combo's length, `action_text_mask` `[N, H]`); σ1 a linear projection;
    c: learned concept embeddings of the vocabulary agents, summed over the combo's multi-hot
    `action_concepts` `[N, A]`; σ2 a two-layer MLP. `use_text=False` is the concept-only ablation.
    """

    def __init__(self, n_agents: int, text_dim: int, max_agents: int, dim: int, use_text: bool):
        super().__init__()
        self.use_text = use_text
        self.concepts = nn.Parameter(torch.randn(n_agents, dim) * 0.3)
        self.sigma1 = nn.Linear(text_dim, dim)
        self.sigma2 = nn.Sequential(nn.Linear(dim * max_agents + dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))

    def forward(self, concepts, text, text_mask):
        c = concepts @ self.concepts
        t = self.sigma1(text) * text_mask.unsqueeze(-1)
        if not self.use_text:
            t = t * 0.0
        return self.sigma2(torch.cat([t.flatten(1), c], dim=1))


def timestep_embedding(t, dim: int):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float().unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class Attention(nn.Module):
    """Multi-head scaled dot-product attention written out (exports to plain ONNX MatMul/Softmax;
    torch's fused MultiheadAttention fast path has no ONNX symbolic)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, query, key, value):
        n, lq, d = query.shape
        h = self.heads
        q = self.q(query).reshape(n, lq, h, d // h).transpose(1, 2)
        k = self.k(key).reshape(n, -1, h, d // h).transpose(1, 2)
        v = self.v(value).reshape(n, -1, h, d // h).transpose(1, 2)
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        return self.o((w @ v).transpose(1, 2).reshape(n, lq, d))


class SelfAttention3d(nn.Module):
    def __init__(self, ch: int, heads: int = 4):
        super().__init__()
        self.norm = norm(ch)
        self.attn = Attention(ch, heads)

    def forward(self, x):
        n, c, d, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)
        out = self.attn(tokens, tokens, tokens)
        return x + out.transpose(1, 2).reshape(n, c, d, h, w)


class LatentDenoiser(nn.Module):
    """ε_θ(z_t, z0', m0, τ(a), t): a small 3D U-Net on the latent grid with FiLM conditioning
    from time + action embeddings and self-attention at the bottleneck."""

    def __init__(self, latent: int, ch: int, action: ActionEncoder, action_dim: int, downsample: int):
        super().__init__()
        self.downsample = downsample
        self.action = action
        cond = 2 * action_dim
        self.time = nn.Sequential(nn.Linear(action_dim, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.action_proj = nn.Linear(action_dim, cond)
        self.inp = nn.Conv3d(2 * latent + 1, ch, 3, padding=1)
        self.d1 = ResBlock(ch, ch, cond)
        self.down = nn.Conv3d(ch, 2 * ch, 3, stride=2, padding=1)
        self.d2 = ResBlock(2 * ch, 2 * ch, cond)
        self.mid_attn = SelfAttention3d(2 * ch)
        self.m2 = ResBlock(2 * ch, 2 * ch, cond)
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv3d(2 * ch, ch, 3, padding=1))
        self.u1 = ResBlock(2 * ch, ch, cond)
        self.out = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv3d(ch, latent, 3, padding=1))
        self.action_dim = action_dim

    def condition(self, timestep, concepts, text, text_mask):
        return self.time(timestep_embedding(timestep, self.action_dim)) + self.action_proj(self.action(concepts, text, text_mask))

    def forward(self, noisy_latent, timestep, masked_latent, mask, action_concepts, action_text, action_text_mask):
        cond = self.condition(timestep, action_concepts, action_text, action_text_mask)
        m = F.avg_pool3d(mask, self.downsample)
        h0 = self.inp(torch.cat([noisy_latent, masked_latent, m], dim=1))
        h1 = self.d1(h0, cond)
        h2 = self.d2(self.down(h1), cond)
        h2 = self.m2(self.mid_attn(h2), cond)
        u = self.u1(torch.cat([self.up(h2), h1], dim=1), cond)
        return self.out(u)


# ---------------------------------------------------------------------------------------------
# Assistant: 3D U-Net (liver / tumour)


class UNet3d(nn.Module):
    def __init__(self, ch: int, out_channels: int = 3):
        super().__init__()
        self.e1 = ResBlock(1, ch)
        self.e2 = ResBlock(ch, 2 * ch)
        self.e3 = ResBlock(2 * ch, 4 * ch)
        self.pool = nn.MaxPool3d(2)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.d2 = ResBlock(4 * ch + 2 * ch, 2 * ch)
        self.d1 = ResBlock(2 * ch + ch, ch)
        self.head = nn.Conv3d(ch, out_channels, 1)

    def forward(self, image):
        e1 = self.e1(image)
        e2 = self.e2(self.pool(e1))
        e3 = self.e3(self.pool(e2))
        d2 = self.d2(torch.cat([self.up(e3), e2], dim=1))
        d1 = self.d1(torch.cat([self.up(d2), e1], dim=1))
        return self.head(d1)


# ---------------------------------------------------------------------------------------------
# Heuristic: survival network (CNN backbone, two-way cross-attention, attention aggregator)


class Backbone(nn.Module):
    """MC3-style: one 3D conv stage then strided residual stages; returns tokens `[N, L, D]`."""

    def __init__(self, ch: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(2, ch, 3, stride=2, padding=1), norm(ch), nn.SiLU(),
            ResBlock(ch, ch), nn.Conv3d(ch, 2 * ch, 3, stride=2, padding=1),
            ResBlock(2 * ch, 2 * ch), nn.Conv3d(2 * ch, 2 * ch, 3, stride=2, padding=1),
        )

    def forward(self, x):
        return self.net(x).flatten(2).transpose(1, 2)


class TwoWayCrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.pre_to_post = Attention(dim, heads)
        self.post_to_pre = Attention(dim, heads)
        self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))
        self.n3 = nn.LayerNorm(dim)

    def forward(self, pre, post):
        pre = self.n1(pre + self.pre_to_post(pre, post, post))
        post = self.n2(post + self.post_to_pre(post, pre, pre))
        tokens = torch.cat([pre, post], dim=1)
        return self.n3(tokens + self.mlp(tokens))


class AttentionAggregator(nn.Module):
    """Gated attention multi-instance pooling (Ilse et al.) over tokens."""

    def __init__(self, dim: int):
        super().__init__()
        self.v = nn.Linear(dim, dim)
        self.u = nn.Linear(dim, dim)
        self.w = nn.Linear(dim, 1)

    def forward(self, tokens):
        a = self.w(torch.tanh(self.v(tokens)) * torch.sigmoid(self.u(tokens)))
        a = torch.softmax(a, dim=1)
        return (a * tokens).sum(dim=1)


class SurvivalNet(nn.Module):
    def __init__(self, ch: int, heads: int):
        super().__init__()
        dim = 2 * ch
        self.backbone = Backbone(ch)
        self.phase = nn.Parameter(torch.zeros(2, dim))
        self.cross = TwoWayCrossAttention(dim, heads)
        self.pool = AttentionAggregator(dim)
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, 2))

    def forward(self, pre, post):
        a = self.backbone(pre) + self.phase[0]
        b = self.backbone(post) + self.phase[1]
        out = self.head(self.pool(self.cross(a, b)))
        return out[:, :1], out[:, 1:]


# ---------------------------------------------------------------------------------------------
# Response-conditioned dynamics (0.3): τ(a) through a supervised response bottleneck
#
# The 0.2 denoiser took τ(a) straight into FiLM and learned to ignore it: on observational data
# (one protocol per patient) the ε-loss barely depends on the action. Here the action first
# predicts what a reader would measure on the post-CT (volume ratio, viable / necrosis /
# Lipiodol shares of the residual lesion, liver HU shift), supervised by those measurements on
# the true post-CTs; the denoiser is conditioned on that response vector, which explains most of
# the post-tumour's appearance, so the ε-loss cannot ignore it.

RESPONSE_FIELDS = ("volumeRatio", "viableShare", "necrosisShare", "lipiodolShare", "liverShiftHu")
LIVER_SHIFT_SCALE_HU = 10.0
WINDOW_LO_HU, WINDOW_HI_HU = -175.0, 600.0
PATCH_VOXEL_ML = 0.027  # one 3 mm voxel


def to_hu(image):
    """Model range [-1, 1] → HU inside the intensity window."""
    return WINDOW_LO_HU + (image + 1) * 0.5 * (WINDOW_HI_HU - WINDOW_LO_HU)


class PreEncoder(nn.Module):
    """Pre-treatment patch (CT, liver mask, tumour mask) → a patient vector: a small strided CNN
    plus measured features (log tumour volume, tumour enhancement over liver, liver volume)."""

    def __init__(self, ch: int, dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(3, ch, 3, stride=2, padding=1), norm(ch), nn.SiLU(),
            ResBlock(ch, ch), nn.Conv3d(ch, 2 * ch, 3, stride=2, padding=1),
            ResBlock(2 * ch, 2 * ch), nn.Conv3d(2 * ch, 4 * ch, 3, stride=2, padding=1), norm(4 * ch), nn.SiLU(),
        )
        self.proj = nn.Linear(4 * ch + 3, dim)

    @staticmethod
    def measured(pre):
        hu = to_hu(pre[:, 0])
        liver, tumour = pre[:, 1], pre[:, 2]
        tumour_ml = tumour.sum((1, 2, 3)) * PATCH_VOXEL_ML
        liver_ml = liver.sum((1, 2, 3)) * PATCH_VOXEL_ML
        tumour_hu = (hu * tumour).sum((1, 2, 3)) / (tumour.sum((1, 2, 3)) + 1)
        liver_hu = (hu * liver).sum((1, 2, 3)) / (liver.sum((1, 2, 3)) + 1)
        return torch.stack([torch.log1p(tumour_ml / 3), (tumour_hu - liver_hu) / 100, liver_ml / 500], dim=1)

    def forward(self, pre):
        pooled = self.net(pre).mean((2, 3, 4))
        return self.proj(torch.cat([pooled, self.measured(pre)], dim=1))


class MeasuredPatient(nn.Module):
    """Patient vector from PreEncoder.measured alone (log tumour volume, enhancement over liver,
    liver volume)."""

    def __init__(self, dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, pre):
        return self.mlp(PreEncoder.measured(pre))


class ResponseHead(nn.Module):
    """τ(a) → expected response: per-agent concept embeddings (summed over the combo's multi-hot)
    interact with the patient vector; outputs `[N, 5]` in RESPONSE_FIELDS order (shares sum to 1,
    liver shift in HU)."""

    def __init__(self, n_agents: int, ch: int, dim: int, patient: str = "cnn"):
        super().__init__()
        # "cnn": PreEncoder (a strided CNN + measured features); "measured": the measured features
        # alone through a small MLP (far fewer parameters for ~1,000 observational patients).
        self.patient = PreEncoder(ch, dim) if patient == "cnn" else MeasuredPatient(dim)
        self.concepts = nn.Parameter(torch.randn(n_agents, dim) * 0.3)
        self.count = nn.Linear(1, dim)
        self.mlp = nn.Sequential(nn.Linear(3 * dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, 5))

    def forward(self, pre, action_concepts):
        f = self.patient(pre)
        a = action_concepts @ self.concepts + self.count(action_concepts.sum(1, keepdim=True))
        out = self.mlp(torch.cat([f, a, f * a], dim=1))
        volume = 1.2 * torch.sigmoid(out[:, :1])
        shares = torch.softmax(out[:, 1:4], dim=1)
        shift = out[:, 4:5] * LIVER_SHIFT_SCALE_HU
        return torch.cat([volume, shares, shift], dim=1)


def response_features(response):
    """The denoiser's view of a response vector: shares and volume as they are, shift rescaled."""
    return torch.cat([response[:, :4], response[:, 4:5] / LIVER_SHIFT_SCALE_HU], dim=1)


class ResponseDenoiser(nn.Module):
    """ε_θ(z_t, z0', m0, r, t) with r = ResponseHead(x0, m0, a): the U-Net of LatentDenoiser,
    FiLM-conditioned on time + an MLP of the response vector at every block."""

    def __init__(self, latent: int, ch: int, cond_dim: int, downsample: int):
        super().__init__()
        self.downsample = downsample
        self.cond_dim = cond_dim
        cond = 2 * cond_dim
        self.time = nn.Sequential(nn.Linear(cond_dim, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.response = nn.Sequential(nn.Linear(5, cond), nn.SiLU(), nn.Linear(cond, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.inp = nn.Conv3d(2 * latent + 1, ch, 3, padding=1)
        self.d1 = ResBlock(ch, ch, cond)
        self.down = nn.Conv3d(ch, 2 * ch, 3, stride=2, padding=1)
        self.d2 = ResBlock(2 * ch, 2 * ch, cond)
        self.mid_attn = SelfAttention3d(2 * ch)
        self.m2 = ResBlock(2 * ch, 2 * ch, cond)
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv3d(2 * ch, ch, 3, padding=1))
        self.u1 = ResBlock(2 * ch, ch, cond)
        self.u2 = ResBlock(ch, ch, cond)
        self.out = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv3d(ch, latent, 3, padding=1))

    # Classifier-free guidance (Ho & Salimans 2022) on the response: trained with the response
    # dropped (`keep` = 0: no response term in the conditioning) for a share of samples, the same
    # network predicts ε with and without the response, and `guidance` = w > 1 exports
    # ε_uncond + w·(ε_cond − ε_uncond), both halves in one doubled batch, so the graph's
    # inputs and outputs stay those of the unguided model.
    guidance: float = 1.0

    def forward(self, noisy_latent, timestep, masked_latent, mask, response, keep=None):
        if self.guidance != 1.0 and keep is None:
            n = noisy_latent.shape[0]
            two = lambda x: torch.cat([x, x], dim=0)  # noqa: E731
            keep2 = torch.cat([torch.ones_like(timestep), torch.zeros_like(timestep)])
            eps = self.predict(two(noisy_latent), two(timestep), two(masked_latent), two(mask), two(response), keep2)
            eps = eps.reshape(2, n, *eps.shape[1:])
            return eps[1] + self.guidance * (eps[0] - eps[1])
        return self.predict(noisy_latent, timestep, masked_latent, mask, response, keep)

    def predict(self, noisy_latent, timestep, masked_latent, mask, response, keep=None):
        r = self.response(response_features(response))
        if keep is not None:
            r = r * keep[:, None]
        cond = self.time(timestep_embedding(timestep, self.cond_dim)) + r
        m = F.avg_pool3d(mask, self.downsample)
        h1 = self.d1(self.inp(torch.cat([noisy_latent, masked_latent, m], dim=1)), cond)
        h2 = self.d2(self.down(h1), cond)
        h2 = self.m2(self.mid_attn(h2), cond)
        u = self.u2(self.u1(torch.cat([self.up(h2), h1], dim=1), cond), cond)
        return self.out(u)


# ---------------------------------------------------------------------------------------------
# Heuristic (0.3): measured response features + a pre-treatment CNN, Cox head


def soft_band(hu, lo: float, hi: float, width: float = 4.0):
    return torch.sigmoid((hu - lo) / width) * torch.sigmoid((hi - hu) / width)


class MeasuredSurvivalNet(nn.Module):
    """H_surv(x0, m0, x̂, m̂): what decides risk after TACE, measured on the post-CT in the graph
    (viable residual tumour volume by HU band inside the post tumour mask, Lipiodol and necrotic
    volume, lesion volume, liver attenuation shift between pre and post on the shared liver) plus
    a pre-treatment CNN for the patient's baseline prognosis; a linear Cox head on both.

    Inputs `pre`, `post`: `[N, 3, P, P, P]` = CT (model range), liver mask, tumour mask.
    The post-CT reaches the risk only through the measured features, so a simulated CT changes
    the risk for the reasons a reader would name."""

    FEATURES = ("logViableMl", "logResidualMl", "logLipiodolMl", "logNecrosisMl", "logPreTumourMl", "liverShiftPer14Hu", "enhancement", "liverMl")

    def __init__(self, ch: int, dim: int):
        super().__init__()
        self.pre_net = PreEncoder(ch, dim)
        self.cox = nn.Linear(len(self.FEATURES), 1)
        self.prognosis = nn.Sequential(nn.SiLU(), nn.Linear(dim, 1))
        self.os_head = nn.Linear(len(self.FEATURES) + dim, 1)

    def features(self, pre, post):
        hu_pre, hu_post = to_hu(pre[:, 0]), to_hu(post[:, 0])
        tumour_post = post[:, 2]
        ml = lambda m: m.sum((1, 2, 3)) * PATCH_VOXEL_ML  # noqa: E731
        viable = ml(tumour_post * soft_band(hu_post, 55.0, 250.0))
        lipiodol = ml(tumour_post * torch.sigmoid((hu_post - 250.0) / 4.0))
        residual = ml(tumour_post)
        necrosis = torch.clamp(residual - viable - lipiodol, min=0.0)
        shared = pre[:, 1] * post[:, 1]
        shift = ((hu_post - hu_pre) * shared).sum((1, 2, 3)) / (shared.sum((1, 2, 3)) + 1)
        measured_pre = PreEncoder.measured(pre)
        return torch.stack([
            torch.log1p(viable / 3), torch.log1p(residual / 3), torch.log1p(lipiodol / 3), torch.log1p(necrosis / 3),
            measured_pre[:, 0], shift / 14, measured_pre[:, 1], measured_pre[:, 2],
        ], dim=1)

    def forward(self, pre, post):
        phi = self.features(pre, post)
        f = self.pre_net(pre)
        risk = self.cox(phi) + self.prognosis(f)
        return risk, self.os_head(torch.cat([phi, f], dim=1))


# ---------------------------------------------------------------------------------------------
# Export forms for onnxruntime's CPU provider (same function, different graph)
#
# onnxruntime has no direct 3-D convolution (im2col + SGEMM, 2-2.5x slower than oneDNN at the
# denoiser's shapes) but fast blocked ("NCHWc") 2-D kernels, and its generic 5-D Resize and the
# Shape/Gather/Concat chains of a dynamically shaped trace cost more than the arithmetic around
# them. `for_onnxruntime(module)` swaps, in a copy, every layer that has a faster ONNX form:
#   - 3x3x3 Conv3d, stride 1 or 2, padding 1 -> Conv3dAs2d: a 2-D 3x3 convolution over depth
#     slices with the three depth taps stacked as input channels (stride 2: every other slice,
#     2-D stride 2), the stacked channels zero-padded to a multiple of 16 (the NCHWc block);
#   - nearest x2 Upsample followed by such a Conv3d (in a Sequential) -> UpConv3dAs2d: the same
#     on the low-resolution grid, one 2x2 Conv2d per depth phase (2.2x fewer multiply-adds);
#   - any other nearest x2 Upsample -> NearestUp2x: three Concats of a tensor with itself (bit-exact;
#     onnxruntime's 5-D Resize, Expand or a broadcast Mul are 15-30x slower at [8, 64, 4, 4, 4]);
#   - ResBlock's FiLM split by static slices (ResBlockExport). GroupNorm stays torch's export
#     (Reshape + InstanceNormalization + Mul + Add, 2 % of the time), avg_pool3d too.
# Every reshape uses the traced (static) non-batch sizes and -1 for the batch, so the graph has
# no shape arithmetic. Outputs agree with the module to ~1e-6 (docs/performance.md).

NCHWC_BLOCK = 16


class Conv3dAs2d(nn.Module):
    """A 3x3x3, padding-1 Conv3d (stride 1 or 2) as a Conv2d (3x3) over depth slices, the three
    depth taps stacked as input channels; same weights, reordered."""

    def __init__(self, conv: nn.Conv3d, block: int = NCHWC_BLOCK):
        super().__init__()
        w = conv.weight.detach()  # [out, in, kz, ky, kx]
        out, cin = w.shape[:2]
        self.stride = conv.stride[0]
        self.cin, self.out = cin, out
        self.cpad = (-3 * cin) % block  # zero input channels after the stacked taps
        self.conv2d = nn.Conv2d(3 * cin + self.cpad, out, 3, stride=self.stride, padding=1)
        with torch.no_grad():
            wp = torch.zeros(out, 3 * cin + self.cpad, 3, 3)
            wp[:, : 3 * cin] = w.permute(0, 2, 1, 3, 4).reshape(out, 3 * cin, 3, 3)
            self.conv2d.weight.copy_(wp)
            self.conv2d.bias.copy_(conv.bias.detach())

    def forward(self, x):
        c, d, h, w = (int(s) for s in x.shape[1:])
        s = self.stride
        t = x.transpose(1, 2)  # [n, d, c, h, w]: depth slices, the transpose on 1x the data
        p = F.pad(t, (0, 0, 0, 0, 0, 0, 1, 1))
        do = (d + s - 1) // s
        taps = torch.tensor([s * o + k for o in range(do) for k in range(3)])  # one Gather: [n, do * 3, c, h, w]
        stacked = p.index_select(1, taps).reshape(-1, do, 3 * c, h, w)
        if self.cpad:
            stacked = F.pad(stacked, (0, 0, 0, 0, 0, self.cpad))
        y = self.conv2d(stacked.reshape(-1, 3 * c + self.cpad, h, w))
        return y.reshape(-1, do, self.out, (h + s - 1) // s, (w + s - 1) // s).transpose(1, 2)


class Conv3dAs2dSlab(nn.Module):
    """A 3x3x3, stride-1, padding-1 Conv3d as a Conv2d (3x3) that computes `slices` consecutive
    output depth slices at once from the `slices + 2` input slices they read, stacked as input
    channels (output channels: slices x out). For few channels (8 -> 8 at 32^3) this fills
    onnxruntime's 16-channel NCHWc blocks without zero padding: 2 slices read 4 x 8 = 32 input
    channels and write 16, 1.33x the multiply-adds of the 3-D convolution, where the 3-tap form
    pads 24 -> 32 inputs and 8 -> 16 outputs (2.7x)."""

    def __init__(self, conv: nn.Conv3d, slices: int = 2, block: int = NCHWC_BLOCK):
        super().__init__()
        w = conv.weight.detach()  # [out, in, kz, ky, kx]
        out, cin = w.shape[:2]
        if conv.stride != (1, 1, 1):
            raise ValueError("Conv3dAs2dSlab is for stride 1")
        self.k, self.cin, self.out = slices, cin, out
        self.cpad = (-(slices + 2) * cin) % block
        self.conv2d = nn.Conv2d((slices + 2) * cin + self.cpad, slices * out, 3, padding=1)
        with torch.no_grad():
            wp = torch.zeros(slices, out, slices + 2 + (self.cpad + cin - 1) // cin, cin, 3, 3)
            for j in range(slices):
                for t in range(3):
                    wp[j, :, j + t] = w[:, :, t]
            wp = wp.reshape(slices * out, -1, 3, 3)[:, : (slices + 2) * cin + self.cpad]
            self.conv2d.weight.copy_(wp)
            self.conv2d.bias.copy_(conv.bias.detach().repeat(slices))

    def forward(self, x):
        c, d, h, w = (int(s) for s in x.shape[1:])
        k = self.k
        if d % k:
            raise ValueError(f"depth {d} is not a multiple of {k} slices")
        p = F.pad(x.transpose(1, 2), (0, 0, 0, 0, 0, 0, 1, 1))  # [n, d + 2, c, h, w]
        taps = torch.tensor([k * o + t for o in range(d // k) for t in range(k + 2)])
        stacked = p.index_select(1, taps).reshape(-1, d // k, (k + 2) * c, h, w)
        if self.cpad:
            stacked = F.pad(stacked, (0, 0, 0, 0, 0, self.cpad))
        y = self.conv2d(stacked.reshape(-1, (k + 2) * c + self.cpad, h, w))
        return y.reshape(-1, d, self.out, h, w).transpose(1, 2)


class NearestUp2x(nn.Module):
    """nn.Upsample(scale_factor=2, mode="nearest") on [N, C, D, H, W] without ONNX Resize."""

    def forward(self, x):
        c, d, h, w = (int(s) for s in x.shape[1:])
        y = torch.cat([x.unsqueeze(-1)] * 2, -1).reshape(-1, c, d, h, 1, 2 * w)  # each x twice
        y = torch.cat([y] * 2, -2).reshape(-1, c, d, 1, 4 * h * w)  # each row twice
        return torch.cat([y] * 2, -2).reshape(-1, c, 2 * d, 2 * h, 2 * w)  # each slice twice


class UpConv3dAs2d(nn.Module):
    """nearest x2 upsampling followed by a 3x3x3, stride-1, padding-1 Conv3d, computed on the
    low-resolution grid: each of the 8 output phases (parity in z, y, x) sees a 2x2x2 window of
    the input, with the 3-tap kernel folded to 2 taps per axis (phase 0: [k0, k1+k2] on offsets
    -1, 0; phase 1: [k0+k1, k2] on offsets 0, +1). Per depth phase one Conv2d (2x2, padding 1)
    over the two stacked depth slices gives the four (y, x) phases as output channels, each read
    at its offset; one Transpose interleaves the phases. 2.2x fewer multiply-adds than the
    upsampled convolution, no 8x-sized intermediate."""

    FOLD = torch.tensor([[[1.0, 0, 0], [0, 1, 1]], [[1.0, 1, 0], [0, 0, 1]]])  # [phase, 2 taps, 3 taps]

    def __init__(self, conv: nn.Conv3d):
        super().__init__()
        w = conv.weight.detach().double()  # [o, i, 3, 3, 3]
        out, cin = w.shape[:2]
        self.cin, self.out = cin, out
        f = self.FOLD.double()
        self.convs = nn.ModuleList()
        for a in range(2):
            c2 = nn.Conv2d(2 * cin, 4 * out, 2, padding=1)
            # weight[(b, c, o), (j1, i), j2, j3] = sum_k F[a, j1, k1] F[b, j2, k2] F[c, j3, k3] w[o, i, k1, k2, k3]
            wt = torch.einsum("xp,bqr,cst,oiprt->bcoxiqs", f[a], f, f, w)
            with torch.no_grad():
                c2.weight.copy_(wt.reshape(4 * out, 2 * cin, 2, 2).float())
                c2.bias.copy_(conv.bias.detach().repeat(4))
            self.convs.append(c2)

    def forward(self, x):
        c, d, h, w = (int(s) for s in x.shape[1:])
        o = self.out
        p = F.pad(x.transpose(1, 2), (0, 0, 0, 0, 0, 0, 1, 1))  # [n, d + 2, c, h, w]
        phases = []
        for a in range(2):
            taps = torch.tensor([z + a + k for z in range(d) for k in range(2)])
            stacked = p.index_select(1, taps).reshape(-1, 2 * c, h, w)
            y = self.convs[a](stacked).reshape(-1, d, 4, o, h + 1, w + 1)
            phases += [y[:, :, 2 * b + cc : 2 * b + cc + 1, :, b : b + h, cc : cc + w] for b in range(2) for cc in range(2)]
        y = torch.cat(phases, dim=2).reshape(-1, d, 2, 2, 2, o, h, w)  # [n, z, pz, py, px, o, y, x]
        return y.permute(0, 5, 1, 2, 6, 3, 7, 4).reshape(-1, o, 2 * d, 2 * h, 2 * w)


class ResBlockExport(ResBlock):
    """ResBlock with the FiLM vector split by static slices (no Shape/Gather/Unsqueeze chains)."""

    def forward(self, x, cond=None):
        h = self.c1(F.silu(self.n1(x)))
        h = self.n2(h)
        if self.film is not None:
            cout = self.film.out_features // 2
            f = self.film(cond).reshape(-1, 2 * cout, 1, 1, 1)
            h = h * (1 + f[:, :cout]) + f[:, cout:]
        h = self.c2(F.silu(h))
        return h + self.skip(x)


def _is_up2(m: nn.Module) -> bool:
    return isinstance(m, nn.Upsample) and m.mode == "nearest" and m.scale_factor in (2, 2.0, (2, 2, 2), (2.0, 2.0, 2.0))


def _is_conv333(m: nn.Module, strides=((1, 1, 1), (2, 2, 2))) -> bool:
    return (isinstance(m, nn.Conv3d) and m.kernel_size == (3, 3, 3) and m.stride in strides and m.padding == (1, 1, 1)
            and m.dilation == (1, 1, 1) and m.groups == 1 and m.bias is not None)


def for_onnxruntime(module: nn.Module) -> nn.Module:
    """A copy of `module` in its fast ONNX export form (see above); the original is untouched."""
    import copy

    module = copy.deepcopy(module).eval()

    def swap(m: nn.Module) -> None:
        children = list(m.named_children())
        for k, (name, child) in enumerate(children):
            following = children[k + 1][1] if k + 1 < len(children) else None
            if isinstance(m, nn.Sequential) and _is_up2(child) and following is not None and _is_conv333(following, ((1, 1, 1),)):
                setattr(m, name, nn.Identity())  # the next layer upsamples
                setattr(m, children[k + 1][0], UpConv3dAs2d(following))
                children[k + 1] = (children[k + 1][0], None)
            elif child is None:
                continue
            elif _is_conv333(child):
                setattr(m, name, Conv3dAs2d(child))
            elif type(child) is ResBlock:
                child.__class__ = ResBlockExport
                swap(child)
            elif _is_up2(child):
                setattr(m, name, NearestUp2x())
            else:
                swap(child)

    swap(module)
    return module


with_2d_convs = for_onnxruntime  # the 0.3.0 name


# The assistant's U-Net (assistant 0.2.1). Its decoder blocks read cat([up(low), skip]) through
# a GroupNorm whose groups straddle the two parts, so the fold of the upsampling needs the group
# statistics computed from both parts at their own resolution: the per-channel mean of up(a) over
# the fine grid is a's mean over the coarse grid (each voxel repeated 8 times), so the group mean
# and (two-pass) variance come from per-channel reductions of a (coarse) and b (fine); the affine
# normalisation and SiLU are per voxel, so they commute with the upsampling. The first conv then
# splits by input channels: UpConv3dAs2d on the coarse part, the conv's own form on the fine part;
# the 1x1 skip of the coarse part is computed coarse, upsampled in y and x by Concats and added by
# broadcasting over the depth phase (the fine grid viewed as [n, c, d, 2, 4hw]).


def split_group_norm(gn: nn.GroupNorm, a, b):
    """GroupNorm(cat([up2(a), b], 1)) returned as (coarse part, fine part) without up2."""
    ca, cb = int(a.shape[1]), int(b.shape[1])
    groups = gn.num_groups
    cpg = (ca + cb) // groups
    dims = (2, 3, 4)

    def per_channel(g):  # [n, groups] -> [n, C]
        return g.reshape(-1, groups, 1).expand(-1, groups, cpg).reshape(-1, ca + cb)

    mean = per_channel(torch.cat([a.mean(dims), b.mean(dims)], 1).reshape(-1, groups, cpg).mean(2))
    ma, mb = mean[:, :ca].reshape(-1, ca, 1, 1, 1), mean[:, ca:].reshape(-1, cb, 1, 1, 1)
    var = per_channel(torch.cat([((a - ma) ** 2).mean(dims), ((b - mb) ** 2).mean(dims)], 1).reshape(-1, groups, cpg).mean(2))
    scale = gn.weight.reshape(1, -1) * torch.rsqrt(var + gn.eps)
    shift = gn.bias.reshape(1, -1) - mean * scale
    sa, sb = scale[:, :ca].reshape(-1, ca, 1, 1, 1), scale[:, ca:].reshape(-1, cb, 1, 1, 1)
    ha, hb = shift[:, :ca].reshape(-1, ca, 1, 1, 1), shift[:, ca:].reshape(-1, cb, 1, 1, 1)
    return a * sa + ha, b * sb + hb


def _conv_part(conv: nn.Conv3d, lo: int, hi: int, bias: bool) -> nn.Conv3d:
    k = conv.kernel_size
    part = nn.Conv3d(hi - lo, conv.out_channels, k, padding=conv.padding, bias=True)
    with torch.no_grad():
        part.weight.copy_(conv.weight[:, lo:hi])
        part.bias.copy_(conv.bias if bias else torch.zeros_like(conv.bias))
    return part


class UpCatResBlock(nn.Module):
    """ResBlock(cat([up2(a), b], 1)) computed with `a` on its coarse grid (see above)."""

    def __init__(self, block: ResBlock, ca: int, c1_form=lambda c: c, c2_form=lambda c: c):
        super().__init__()
        cin = block.c1.in_channels
        self.n1, self.n2 = block.n1, block.n2
        self.up_a = UpConv3dAs2d(_conv_part(block.c1, 0, ca, bias=False))
        self.c1_b = c1_form(_conv_part(block.c1, ca, cin, bias=True))
        self.c2 = c2_form(block.c2)
        self.skip_a = _conv_part(block.skip, 0, ca, bias=False)
        self.skip_b = _conv_part(block.skip, ca, cin, bias=True)

    def forward(self, a, b):
        na, nb = split_group_norm(self.n1, a, b)
        h = self.up_a(F.silu(na)) + self.c1_b(F.silu(nb))
        h = self.c2(F.silu(self.n2(h))) + self.skip_b(b)
        o, (d, y, x) = int(h.shape[1]), (int(s) for s in a.shape[2:])
        s = self.skip_a(a)  # coarse; nearest x2 in y and x by Concats (NearestUp2x), in z by broadcasting
        s = torch.cat([s.unsqueeze(-1)] * 2, -1).reshape(-1, o, d, y, 1, 2 * x)
        s = torch.cat([s] * 2, -2).reshape(-1, o, d, 1, 4 * y * x)
        return (h.reshape(-1, o, d, 2, 4 * y * x) + s).reshape(-1, o, 2 * d, 2 * y, 2 * x)


class UNet3dExport(nn.Module):
    """models.UNet3d in onnxruntime's fast form: `fold` folds both nearest x2 upsamplings into the
    decoder blocks (UpCatResBlock, no Resize); otherwise they are NearestUp2x (bit-exact).
    `as_2d(name, conv)` decides per 3x3x3 conv (name as in UNet3d, e.g. "d1.c2"; "d1.c1" is its
    fine-grid part when folded) whether it becomes Conv3dAs2d (True, or a channel block int for
    the zero padding), Conv3dAs2dSlab ("slabK": K output slices per Conv2d) or stays a Conv3d
    (False)."""

    def __init__(self, net: UNet3d, fold: bool = True, as_2d=lambda name, conv: False):
        super().__init__()
        import copy

        net = copy.deepcopy(net).eval()

        def form(name):
            def make(conv):
                choice = as_2d(name, conv)
                if choice is False or choice is None:
                    return conv
                if isinstance(choice, str) and choice.startswith("slab"):
                    return Conv3dAs2dSlab(conv, int(choice[4:]))
                return Conv3dAs2d(conv, NCHWC_BLOCK if choice is True else int(choice))
            return make

        for b in ("e1", "e2", "e3") + (() if fold else ("d2", "d1")):
            block = getattr(net, b)
            block.c1, block.c2 = form(f"{b}.c1")(block.c1), form(f"{b}.c2")(block.c2)
        self.e1, self.e2, self.e3, self.pool, self.head = net.e1, net.e2, net.e3, net.pool, net.head
        self.fold = fold
        if fold:
            self.d2 = UpCatResBlock(net.d2, net.e3.skip.out_channels, form("d2.c1"), form("d2.c2"))
            self.d1 = UpCatResBlock(net.d1, net.d2.skip.out_channels, form("d1.c1"), form("d1.c2"))
        else:
            self.up = NearestUp2x()
            self.d2, self.d1 = net.d2, net.d1

    def forward(self, image):
        e1 = self.e1(image)
        e2 = self.e2(self.pool(e1))
        e3 = self.e3(self.pool(e2))
        if self.fold:
            return self.head(self.d1(self.d2(e3, e2), e1))
        d2 = self.d2(torch.cat([self.up(e3), e2], dim=1))
        return self.head(self.d1(torch.cat([self.up(d2), e1], dim=1)))
