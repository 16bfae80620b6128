"""Generic network blocks: sinusoidal timestep embedding, residual dilated convolution."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class SinusoidalTimeEmbedding(nn.Module):
    """Sinusoidal embedding of the step index followed by a two-layer MLP.

    Parameters
    ----------
    dim : int
        Output width (even widths use equal numbers of sines and cosines).
    max_period : float
        Longest wavelength of the sinusoids.
    """

    def __init__(self, dim: int, max_period: float = 10_000.0) -> None:
        super().__init__()
        self.dim = int(dim)
        half = max(self.dim // 2, 1)
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(2 * half, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Embed integer steps ``t`` of any shape; returns ``t.shape + (dim,)``."""
        args = t.float().unsqueeze(-1) * self.freqs
        return self.mlp(torch.cat([torch.sin(args), torch.cos(args)], dim=-1))


class ResidualDilatedBlock(nn.Module):
    """``x + W_1x1(dropout(GELU(DilatedConv(GELU(x)))))`` with 'same' padding.

    The convolution is not causal: a caller whose input must not see the future enforces
    that when building the input (e.g. a window of past observations only).
    """

    def __init__(self, width: int, dilation: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv1d(width, width, kernel_size, dilation=dilation, padding=pad)
        self.mix = nn.Conv1d(width, width, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` of shape (B, width, k)."""
        return x + self.mix(self.drop(F.gelu(self.conv(F.gelu(x)))))
