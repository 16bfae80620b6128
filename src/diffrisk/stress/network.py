"""The stress denoiser: residual temporal convolutions over the horizon, FiLM conditioning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn
from torch.nn import functional as F

from diffrisk.diffusion.nn import ResidualDilatedBlock, SinusoidalTimeEmbedding
from diffrisk.stress.attention import AssetAttention
from diffrisk.stress.signatures import N_HISTORY_SCALARS, SIGNATURE_COLUMNS


# --------------------------------------------------------------------------- network
@dataclass(frozen=True)
class StressSpec:
    """Shape of :class:`StressDenoiser` (plain numbers, serialisable).

    The network fields (``width`` ... ``emb_dim`` and ``asset_attention`` ...
    ``attention_heads``) are read from :class:`~diffrisk.stress.config.StressConfig`
    (which holds their defaults), the others from the data. The attention fields come
    last with the defaults of a network without attention, so that older checkpoints load.
    """

    n_assets: int
    horizon: int
    history: int
    width: int
    n_blocks: int
    history_width: int
    history_blocks: int
    emb_dim: int
    n_scalars: int = N_HISTORY_SCALARS
    n_signature: int = len(SIGNATURE_COLUMNS)
    amplitude: bool = True
    asset_attention: int = 0
    attention_dim: int = 16
    attention_heads: int = 2


class FiLMBlock(nn.Module):
    """Residual block over the horizon: ``x + conv(SiLU(FiLM(conv(SiLU(norm(x))))))``.

    FiLM (Perez et al. 2018): ``h * (1 + scale) + shift`` with ``(scale, shift)`` a linear
    map of the summed embedding. Convolutions are non-causal ('same' padding): the whole
    path is generated jointly.
    """

    def __init__(self, width: int, emb_dim: int, dilation: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(8, width), width)
        self.conv1 = nn.Conv1d(width, width, 3, dilation=dilation, padding=dilation)
        self.film = nn.Linear(emb_dim, 2 * width)
        self.conv2 = nn.Conv1d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """Apply to ``x`` (B, width, H) with the embedding ``emb`` (B, emb_dim)."""
        h = self.conv1(F.silu(self.norm(x)))
        scale, shift = self.film(emb).unsqueeze(-1).chunk(2, dim=1)
        return x + self.conv2(F.silu(h * (1.0 + scale) + shift))


def amplitude_features(x: torch.Tensor) -> torch.Tensor:
    """Log root-mean-square of each sample (B, A, H) and of its cross-sectional mean, (B, 2).

    The group normalisations of the denoiser remove the overall scale of a sample from its
    hidden features; without these two numbers the network cannot see how volatile (and,
    through the mean across assets, how correlated) the noisy path it is denoising is,
    and the generated paths come out with too little dispersion of volatility.
    """
    total = 0.5 * torch.log((x**2).mean(dim=(1, 2)) + 1e-8)
    market = 0.5 * torch.log((x.mean(dim=1) ** 2).mean(dim=1) + 1e-8)
    return torch.stack([total, market], dim=-1)


class ConditionSpec(Protocol):
    """The shape numbers :class:`ConditionModules` reads from a network spec."""

    n_assets: int
    history_width: int
    history_blocks: int
    emb_dim: int
    n_scalars: int
    n_signature: int


class ConditionModules(nn.Module):
    """History encoder and signature embedding of every stress generator.

    The history encoder: residual dilated convolutions over the k past days (assets as
    channels), pooled at the last step and on average, plus the scalar volatility
    features. The signature embedding: one learned null token per component (a component
    whose mask is 1 is replaced by its token; the mask is an input too). Shared by
    :class:`StressDenoiser` and the GAN/VAE's
    :class:`~diffrisk.stress.comparison.ConditionEncoder` (same modules, same forward code).

    Parameters
    ----------
    spec : ConditionSpec
        A :class:`StressSpec` or a :class:`~diffrisk.stress.comparison.ComparisonSpec`.
    """

    def __init__(self, spec: ConditionSpec) -> None:
        super().__init__()
        a, hw, d = spec.n_assets, spec.history_width, spec.emb_dim
        self.history_proj = nn.Conv1d(a, hw, 1)
        self.history_blocks = nn.ModuleList(
            ResidualDilatedBlock(hw, 2**i, 3, 0.0) for i in range(spec.history_blocks)
        )
        self.history_out = nn.Sequential(
            nn.Linear(2 * hw + spec.n_scalars, d), nn.SiLU(), nn.Linear(d, d)
        )
        self.null_token = nn.Parameter(torch.zeros(spec.n_signature))
        self.signature_mlp = nn.Sequential(
            nn.Linear(2 * spec.n_signature, d), nn.SiLU(), nn.Linear(d, d)
        )

    def encode_history(self, history: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        """History context (B, emb_dim) from scaled history (B, A, k) and scalars (B, n_scalars)."""
        h = self.history_proj(history)
        for block in self.history_blocks:
            h = block(h)
        return self.history_out(torch.cat([h[..., -1], h.mean(-1), scalars], dim=-1))

    def embed_signature(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Signature embedding (B, emb_dim); ``mask`` 1 = component replaced by its null token.

        NaN values under a mask of 1 are allowed (they are never read).
        """
        m = mask.to(values.dtype)
        filled = torch.where(m > 0, self.null_token.expand_as(values), values)
        return self.signature_mlp(torch.cat([filled, m], dim=-1))


class StressDenoiser(ConditionModules):
    """``v = f(x_t, t, history, signature)`` for scaled paths ``x`` of shape (B, A, H).

    Parts: the history encoder and signature embedding of :class:`ConditionModules`, the
    sinusoidal timestep embedding of :mod:`diffrisk.diffusion.nn`, an embedding of the noisy
    sample's own amplitude (:func:`amplitude_features`), and FiLM residual blocks over the
    horizon. The output convolution starts at zero.

    With ``spec.asset_attention > 0`` an :class:`~diffrisk.stress.attention.AssetAttention`
    (one token per asset holding its noisy path, attention across assets and to the
    conditioning embeddings) maps ``x_t`` to one channel per asset, which a
    zero-initialised 1x1 convolution adds to the input features: the network starts as
    the one without attention. With 0 (default) neither module exists and the network is
    exactly the one without the option.
    """

    prediction_type: str = "v_prediction"
    """What :meth:`forward` predicts (:mod:`diffrisk.diffusion.prediction`)."""

    def __init__(self, spec: StressSpec) -> None:
        super().__init__(spec)
        self.spec = spec
        a, w, d = spec.n_assets, spec.width, spec.emb_dim
        self.time = SinusoidalTimeEmbedding(d)
        self.amplitude = (
            nn.Sequential(nn.Linear(2, d), nn.SiLU(), nn.Linear(d, d)) if spec.amplitude else None
        )
        self.inp = nn.Conv1d(a, w, 1)
        self.blocks = nn.ModuleList(FiLMBlock(w, d, 2 ** (i % 4)) for i in range(spec.n_blocks))
        self.out_norm = nn.GroupNorm(min(8, w), w)
        self.out = nn.Conv1d(w, a, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.attention: AssetAttention | None = None
        self.attention_in: nn.Conv1d | None = None
        if spec.asset_attention > 0:  # created last: the other weights draw as without it
            n_cond = 4 if spec.amplitude else 3
            self.attention = AssetAttention(
                a, spec.horizon, d, n_cond, spec.attention_dim, spec.attention_heads,
                spec.asset_attention,
            )  # fmt: skip
            self.attention_in = nn.Conv1d(a, w, 1)
            nn.init.zeros_(self.attention_in.weight)
            nn.init.zeros_(self.attention_in.bias)

    def forward(
        self, x_t: torch.Tensor, t: torch.Tensor, context: torch.Tensor, signature: torch.Tensor
    ) -> torch.Tensor:
        """Predict ``v = sqrt(ab_t) eps - sqrt(1 - ab_t) x0`` for ``x_t`` (B, A, H) at steps ``t``.

        Convert it with :func:`diffrisk.diffusion.prediction.to_eps` (or ``to_x0``).

        ``context`` and ``signature`` are the (B, emb_dim) outputs of
        :meth:`encode_history` and :meth:`embed_signature`.
        """
        parts = [self.time(t), context, signature]
        if self.amplitude is not None:
            parts.append(self.amplitude(amplitude_features(x_t)))
        emb = parts[0] + parts[1] + parts[2]
        if self.amplitude is not None:
            emb = emb + parts[3]
        emb = F.silu(emb)
        h = self.inp(x_t)
        if self.attention is not None and self.attention_in is not None:
            h = h + self.attention_in(self.attention(x_t, torch.stack(parts, dim=1)))
        for block in self.blocks:
            h = block(h, emb)
        return self.out(F.silu(self.out_norm(h)))
