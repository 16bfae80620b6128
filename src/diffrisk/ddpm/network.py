"""The one-day denoiser: a temporal-convolution encoder of the history and a FiLM head."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from diffrisk.diffusion.nn import ResidualDilatedBlock, SinusoidalTimeEmbedding
from diffrisk.diffusion.training import check_positive_fields


@dataclass(frozen=True)
class DenoiserSpec:
    """Shape of the denoiser (every field is a plain number so it serialises to JSON).

    Parameters
    ----------
    window_channels : int
        Channels of the conditioning window (e.g. scaled return, negative part).
    window_length : int
        k, number of past days in the window.
    n_features : int
        Scalar conditioning features per (day, series).
    n_series : int
        Number of series for the optional embedding (0 disables it).
    series_embedding_dim : int
        Width of the series embedding (ignored when ``n_series == 0``).
    conv_width : int
        Channels of the temporal convolutions.
    n_blocks : int
        Residual dilated blocks; block i has dilation ``2 ** i``.
    kernel_size : int
        Convolution kernel size (odd).
    cond_dim : int
        Width of the bottleneck condition vector.
    time_dim : int
        Width of the timestep embedding.
    hidden : int
        Width of the FiLM head.
    dropout : float
        Dropout probability in the encoder.
    diffusion_steps : int
        T, the length of the per-step Gaussian skip buffer (0: no skip); see
        :meth:`Denoiser.use_gaussian_skip`.
    """

    window_channels: int = 2
    window_length: int = 64
    n_features: int = 4
    n_series: int = 0
    series_embedding_dim: int = 4
    conv_width: int = 16
    n_blocks: int = 3
    kernel_size: int = 3
    cond_dim: int = 8
    time_dim: int = 16
    hidden: int = 32
    dropout: float = 0.1
    diffusion_steps: int = 0

    def __post_init__(self) -> None:
        positive = (
            "window_channels",
            "window_length",
            "conv_width",
            "cond_dim",
            "time_dim",
            "hidden",
            "kernel_size",
        )
        check_positive_fields(self, positive)
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        if min(self.n_blocks, self.n_features, self.n_series, self.diffusion_steps) < 0:
            raise ValueError("n_blocks, n_features, n_series and diffusion_steps must be >= 0")
        if not (0.0 <= self.dropout < 1.0):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class ConditionEncoder(nn.Module):
    """Encode (window, features, series) into a narrow condition vector.

    The conv stack output is pooled two ways (the last position, which sees the most
    recent days, and the mean over the window), concatenated with the scalar features
    and the series embedding, and mapped to ``cond_dim`` through an MLP with dropout.
    """

    def __init__(self, spec: DenoiserSpec) -> None:
        super().__init__()
        self.spec = spec
        w = spec.conv_width
        self.proj = nn.Conv1d(spec.window_channels, w, 1)
        self.blocks = nn.ModuleList(
            ResidualDilatedBlock(w, 2**i, spec.kernel_size, spec.dropout)
            for i in range(spec.n_blocks)
        )
        emb = spec.series_embedding_dim if spec.n_series > 0 else 0
        self.series_embedding = nn.Embedding(spec.n_series, emb) if spec.n_series > 0 else None
        self.out = nn.Sequential(
            nn.Linear(2 * w + spec.n_features + emb, w),
            nn.GELU(),
            nn.Dropout(spec.dropout),
            nn.Linear(w, spec.cond_dim),
        )

    def forward(
        self,
        window: torch.Tensor,
        features: torch.Tensor,
        series_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return the condition (B, cond_dim).

        Parameters
        ----------
        window : Tensor (B, window_channels, k)
        features : Tensor (B, n_features)
        series_index : LongTensor (B,), optional
            Required when the encoder has a series embedding.
        """
        spec = self.spec
        if window.ndim != 3 or window.shape[1:] != (spec.window_channels, spec.window_length):
            raise ValueError(
                f"window must have shape (B, {spec.window_channels}, "
                f"{spec.window_length}), got {tuple(window.shape)}"
            )
        if features.shape != (window.shape[0], spec.n_features):
            raise ValueError(
                f"features must have shape ({window.shape[0]}, {spec.n_features}),"
                f" got {tuple(features.shape)}"
            )
        h = self.proj(window)
        for block in self.blocks:
            h = block(h)
        parts = [h[:, :, -1], h.mean(dim=-1), features]
        if self.series_embedding is not None:
            if series_index is None:
                raise ValueError("series_index is required: the encoder has a series embedding")
            parts.append(self.series_embedding(series_index.long()))
        return self.out(torch.cat(parts, dim=-1))


class FiLMHead(nn.Module):
    """Predict eps from the scalar ``x_t`` with two FiLM-modulated hidden layers.

    ``h1 = SiLU(FiLM_1(W_in x))``, ``h2 = SiLU(FiLM_2(W h1))``, ``eps = w_out h2 + x_t * s``
    where ``FiLM(h) = h * (1 + gamma) + beta`` and ``(gamma, beta)`` are linear in
    ``[condition, time embedding]``. The modulation is computed by :meth:`film` once per
    (condition, step) and broadcast over scenarios by :meth:`apply`.
    """

    def __init__(self, cond_dim: int, time_dim: int, hidden: int) -> None:
        super().__init__()
        self.hidden = int(hidden)
        self.inp = nn.Linear(1, hidden)
        self.mid = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 1)
        self.to_film = nn.Linear(cond_dim + time_dim, 4 * hidden)
        self.skip = nn.Linear(cond_dim + time_dim, 1)
        for layer in (self.to_film, self.skip, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def film(self, cond: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """FiLM parameters ``(..., 5 * hidden + 1)`` from condition and time embedding.

        The last entry is the coefficient of the direct ``x_t`` skip.
        """
        z = torch.cat([cond, temb], dim=-1)
        return torch.cat([self.to_film(z), self.skip(z)], dim=-1)

    def apply(self, x: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        """Evaluate the head on ``x`` (B, N) with modulation ``film`` (B, 1 or N, F).

        With one modulation per condition (``film.shape[1] == 1``, the sampling case) the
        FiLM scales are folded into per-condition weights first (:meth:`_apply_shared`),
        which gives the same values with fewer passes over the (B, N, hidden) tensor.
        """
        h_ = self.hidden
        g1, b1, g2, b2 = (film[..., i * h_ : (i + 1) * h_] for i in range(4))
        s = film[..., 4 * h_]
        if film.ndim == 3 and film.shape[1] == 1 and x.ndim == 2:
            return self._apply_shared(x, g1, b1, g2, b2, s)
        xe = x.unsqueeze(-1)
        h = F.silu(torch.addcmul(b1, self.inp(xe), 1.0 + g1))
        h = F.silu(torch.addcmul(b2, self.mid(h), 1.0 + g2))
        return self.out(h).squeeze(-1) + x * s

    def _apply_shared(
        self,
        x: torch.Tensor,
        g1: torch.Tensor,
        b1: torch.Tensor,
        g2: torch.Tensor,
        b2: torch.Tensor,
        s: torch.Tensor,
    ) -> torch.Tensor:
        """Head with FiLM folded into the weights: ``(W h + b)(1 + g) + c``."""
        a1 = self.inp.weight[:, 0] * (1.0 + g1)  # (B, 1, H)
        c1 = self.inp.bias * (1.0 + g1) + b1
        h = F.silu(torch.addcmul(c1, x.unsqueeze(-1), a1))  # (B, N, H)
        w2 = self.mid.weight.t().unsqueeze(0) * (1.0 + g2)  # (B, H, H)
        c2 = self.mid.bias * (1.0 + g2) + b2
        h = F.silu(torch.baddbmm(c2, h, w2))
        return h @ self.out.weight[0] + self.out.bias[0] + x * s


class Denoiser(nn.Module):
    """Conditional epsilon-predictor for one-day scaled returns.

    Parameters
    ----------
    spec : DenoiserSpec
        Shapes and widths.

    Notes
    -----
    ``encode`` runs the encoder once per condition; ``forward(x_t, t, cond)`` evaluates
    the head. With a Gaussian skip (:meth:`use_gaussian_skip`) the prediction is
    ``sqrt(1 - ab_t) x_t + head(...)``: the first term is the exact E[eps | x_t] for
    N(0, 1) data, so the head only learns the departure of the scaled returns from a
    standard normal, and an untrained network (zero-initialised output) samples N(0, 1).
    In sampling, ``t`` is one step for the whole batch and ``x_t`` has shape
    (B, N) for N scenarios per condition; in training ``x_t`` and ``t`` have shape
    (B, M) for M noise draws per condition.
    """

    prediction_type: str = "epsilon"
    """What the network predicts (:mod:`diffrisk.diffusion.prediction`); the sampler
    reads it through :meth:`predict_eps`."""

    def __init__(self, spec: DenoiserSpec) -> None:
        super().__init__()
        self.spec = spec
        self.encoder = ConditionEncoder(spec)
        self.time_embedding = SinusoidalTimeEmbedding(spec.time_dim)
        self.head = FiLMHead(spec.cond_dim, spec.time_dim, spec.hidden)
        self.register_buffer("skip_coef", torch.zeros(spec.diffusion_steps))

    def use_gaussian_skip(self, sqrt_one_minus_alpha_bars: torch.Tensor) -> None:
        """Set the per-step skip coefficient to ``sqrt(1 - alpha_bar_t)`` (length T)."""
        if sqrt_one_minus_alpha_bars.shape != self.skip_coef.shape:
            raise ValueError(
                f"skip coefficients must have shape {tuple(self.skip_coef.shape)}"
                f", got {tuple(sqrt_one_minus_alpha_bars.shape)}"
            )
        with torch.no_grad():
            self.skip_coef.copy_(sqrt_one_minus_alpha_bars)

    def _skip(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.skip_coef.numel() == 0:
            return torch.zeros_like(x)
        coef = self.skip_coef[t.long()]
        return coef.reshape(*coef.shape, *([1] * (x.ndim - coef.ndim))) * x

    def encode(
        self,
        window: torch.Tensor,
        features: torch.Tensor,
        series_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Condition vectors (B, cond_dim); see :meth:`ConditionEncoder.forward`."""
        return self.encoder(window, features, series_index)

    def film(self, cond: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """FiLM parameters for conditions (B, c) and steps ``t`` of shape () , (B,) or (B, M).

        Returns shape (B, 1, F) for a scalar or (B,) ``t`` and (B, M, F) for (B, M).
        """
        t = torch.as_tensor(t, device=cond.device)
        if t.ndim == 0:
            t = t.expand(cond.shape[0])
        if t.ndim == 1:
            t = t.unsqueeze(1)
        temb = self.time_embedding(t)  # (B, M, time_dim)
        c = cond.unsqueeze(1).expand(-1, temb.shape[1], -1)
        return self.head.film(c, temb)

    def predict_eps(self, x_t: torch.Tensor, cond: torch.Tensor, t: int) -> torch.Tensor:
        """Sampling path: eps for ``x_t`` (B, N) at one step ``t`` shared by the batch."""
        tt = torch.tensor(int(t))
        return self.head.apply(x_t, self.film(cond, tt)) + self._skip(x_t, tt)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Predict eps for ``x_t`` of shape (B, N) (or (B,)) at steps ``t``."""
        squeeze = x_t.ndim == 1
        x = x_t.unsqueeze(1) if squeeze else x_t
        if x.shape[0] != cond.shape[0]:
            raise ValueError(f"x_t has {x.shape[0]} rows but cond has {cond.shape[0]}")
        t = torch.as_tensor(t)
        tt = t.unsqueeze(1) if (squeeze and t.ndim == 1) else t
        eps = self.head.apply(x, self.film(cond, t)) + self._skip(x, tt)
        return eps.squeeze(1) if squeeze else eps
