"""Attention across assets for the stress denoiser (``StressConfig.asset_attention``).

The temporal-convolution denoiser treats the A assets as channels: they mix only through
dense channel maps. :class:`AssetAttention` gives every asset its own token and mixes the
tokens by self-attention across the assets and by cross-attention from the asset tokens to
the conditioning (time, history context, signature and amplitude embeddings as tokens),
as the stress paper's denoiser does. A token holds the asset's whole noisy path over the
horizon (the "inverted" tokens of iTransformer, Liu et al. 2024): the attention weights
then compare whole paths, which is what co-movement is about, and there are A tokens per
sample instead of A x H (per-day tokens made an epoch about four times slower than
without attention on the S&P data). Its output, a path per asset, is added to the
denoiser's input features through a zero-initialised map, so a network with attention
starts out as the network without it.
"""

from __future__ import annotations

import torch
from torch import nn


def asset_features(x: torch.Tensor) -> torch.Tensor:
    """Features of every asset, (B, A, H + 1), from a sample ``x`` (B, A, H).

    The asset's noisy path and the log root-mean-square of that path (its amplitude).
    """
    amp = 0.5 * torch.log((x**2).mean(dim=2, keepdim=True) + 1e-8)
    return torch.cat([x, amp], dim=-1)


class AttentionLayer(nn.Module):
    """Pre-norm residual layer: self-attention across assets, cross-attention, MLP.

    Parameters
    ----------
    dim : int
        Token width.
    heads : int
        Attention heads (divides ``dim``).
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_cross = nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Update the asset ``tokens`` (B, A, dim) given the conditioning ``cond`` (B, C, dim)."""
        q = self.norm_self(tokens)
        tokens = tokens + self.self_attn(q, q, q, need_weights=False)[0]
        q = self.norm_cross(tokens)
        tokens = tokens + self.cross_attn(q, cond, cond, need_weights=False)[0]
        return tokens + self.mlp(self.norm_mlp(tokens))


class AssetAttention(nn.Module):
    """Per-asset tokens mixed across assets and with the conditioning; (B, A, H) out.

    ``token[b, a] = Linear(asset_features(x)[b, a]) + asset_embedding[a]``, then
    ``layers`` :class:`AttentionLayer` s, a final layer norm and a linear map to a path
    of H numbers per asset. Without the learned asset embedding (zero) the map is
    equivariant under permutations of the assets.

    Parameters
    ----------
    n_assets : int
        A.
    horizon : int
        H.
    emb_dim : int
        Width of the conditioning embeddings.
    n_cond : int
        Number of conditioning tokens.
    dim : int
        Token width.
    heads : int
        Attention heads (divides ``dim``).
    layers : int
        Number of :class:`AttentionLayer` s (at least 1).
    """

    def __init__(
        self, n_assets: int, horizon: int, emb_dim: int, n_cond: int, dim: int, heads: int,
        layers: int,
    ) -> None:  # fmt: skip
        super().__init__()
        self.token = nn.Linear(horizon + 1, dim)
        self.asset_embedding = nn.Parameter(0.02 * torch.randn(n_assets, dim))
        self.cond = nn.Linear(emb_dim, dim)
        self.cond_kind = nn.Parameter(0.02 * torch.randn(n_cond, dim))
        self.layers = nn.ModuleList(AttentionLayer(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, horizon)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Mix ``x`` (B, A, H) across assets given ``cond`` (B, n_cond, emb_dim); (B, A, H)."""
        tokens = self.token(asset_features(x)) + self.asset_embedding
        kv = self.cond(cond) + self.cond_kind
        for layer in self.layers:
            tokens = layer(tokens, kv)
        return self.out(self.norm(tokens))
