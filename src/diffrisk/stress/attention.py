"""Attention across assets for the stress denoiser (``StressConfig.asset_attention``).

The temporal-convolution denoiser treats the A assets as channels: they mix only through
dense channel maps. :class:`AssetAttention` gives every asset its own token on every day
and mixes them by self-attention across the assets (per day) and by cross-attention from
the asset tokens to the conditioning (time, history context, signature and amplitude
embeddings as tokens), as the stress paper's denoiser does. Its output, one channel per
asset, is added to the denoiser's input features through a zero-initialised map, so a
network with attention starts out as the network without it.
"""

from __future__ import annotations

import torch
from torch import nn


def asset_features(x: torch.Tensor) -> torch.Tensor:
    """Features of every asset on every day, (B, H, A, 2), from a sample ``x`` (B, A, H).

    The noisy value of the asset on the day and the log root-mean-square of the asset's
    whole noisy path (its own amplitude; the token sees its day's value against it).
    """
    amp = 0.5 * torch.log((x**2).mean(dim=2, keepdim=True) + 1e-8).expand_as(x)
    return torch.stack([x, amp], dim=-1).transpose(1, 2)


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
        """Update ``tokens`` (B, H, A, dim) given the conditioning tokens ``cond`` (B, C, dim).

        Self-attention runs over the A assets of each sample and day; the cross-attention
        of a token to ``cond`` does not depend on the other tokens, so the H x A tokens
        of a sample attend as one sequence.
        """
        b, h, a, d = tokens.shape
        flat = tokens.reshape(b * h, a, d)
        q = self.norm_self(flat)
        flat = flat + self.self_attn(q, q, q, need_weights=False)[0]
        seq = flat.reshape(b, h * a, d)
        q = self.norm_cross(seq)
        seq = seq + self.cross_attn(q, cond, cond, need_weights=False)[0]
        seq = seq + self.mlp(self.norm_mlp(seq))
        return seq.reshape(b, h, a, d)


class AssetAttention(nn.Module):
    """Per-asset tokens mixed across assets and with the conditioning; (B, A, H) out.

    ``token[b, h, a] = Linear(asset_features(x)[b, h, a]) + asset_embedding[a]``, then
    ``layers`` :class:`AttentionLayer` s, a final layer norm and a linear map to one
    number per asset and day. Without the learned asset embedding (zero) the map is
    equivariant under permutations of the assets.

    Parameters
    ----------
    n_assets : int
        A.
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
        self, n_assets: int, emb_dim: int, n_cond: int, dim: int, heads: int, layers: int
    ) -> None:
        super().__init__()
        self.token = nn.Linear(2, dim)
        self.asset_embedding = nn.Parameter(0.02 * torch.randn(n_assets, dim))
        self.cond = nn.Linear(emb_dim, dim)
        self.cond_kind = nn.Parameter(0.02 * torch.randn(n_cond, dim))
        self.layers = nn.ModuleList(AttentionLayer(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Mix ``x`` (B, A, H) across assets given ``cond`` (B, n_cond, emb_dim); (B, A, H)."""
        tokens = self.token(asset_features(x)) + self.asset_embedding
        kv = self.cond(cond) + self.cond_kind
        for layer in self.layers:
            tokens = layer(tokens, kv)
        return self.out(self.norm(tokens)).squeeze(-1).transpose(1, 2)
