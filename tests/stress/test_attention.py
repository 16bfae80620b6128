"""Tests of diffrisk.stress.attention: attention across assets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffrisk.stress.attention import AssetAttention, asset_features


def _attention(n_assets: int, layers: int = 2, seed: int = 0) -> AssetAttention:
    torch.manual_seed(seed)
    return AssetAttention(n_assets, 6, emb_dim=8, n_cond=3, dim=8, heads=2, layers=layers).eval()


def _inputs(n_assets: int, batch: int = 2, horizon: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(batch, n_assets, horizon, generator=g), torch.randn(batch, 3, 8, generator=g)


def test_asset_features_are_the_path_and_its_log_amplitude():
    x = torch.randn(2, 3, 5)
    f = asset_features(x)
    assert f.shape == (2, 3, 6)
    torch.testing.assert_close(f[..., :5], x)
    rms = np.sqrt((x.numpy() ** 2).mean(axis=2))  # (B, A)
    assert f[..., 5].numpy() == pytest.approx(np.log(rms), abs=1e-5)


@pytest.mark.parametrize("n_assets", [1, 3, 5])
def test_output_has_one_channel_per_asset_and_day(n_assets):
    x, cond = _inputs(n_assets)
    out = _attention(n_assets)(x, cond)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_perturbing_one_asset_changes_the_others():
    """The self-attention mixes assets: asset j's input reaches asset i's output."""
    net = _attention(4)
    x, cond = _inputs(4)
    bumped = x.clone()
    bumped[:, 2, 3] += 1.0
    with torch.no_grad():
        delta = (net(bumped, cond) - net(x, cond)).abs()
    for i in (0, 1, 3):
        assert delta[:, i].min() > 1e-6


def test_the_conditioning_tokens_reach_every_asset():
    net = _attention(3)
    x, cond = _inputs(3)
    with torch.no_grad():
        delta = (net(x, cond + 1.0) - net(x, cond)).abs()
    assert delta.min() > 1e-6


def test_attention_is_permutation_equivariant_with_the_asset_embeddings():
    """f(P x; P E) = P f(x; E); with equal embeddings (zero) f itself is equivariant."""
    net = _attention(4)
    x, cond = _inputs(4)
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        out = net(x, cond)
        emb = net.asset_embedding.detach().clone()
        net.asset_embedding.copy_(emb[perm])
        torch.testing.assert_close(net(x[:, perm], cond), out[:, perm])
        net.asset_embedding.zero_()
        plain = net(x, cond)
        torch.testing.assert_close(net(x[:, perm], cond), plain[:, perm])
    assert not torch.allclose(plain, out)  # the learned embeddings tell the assets apart
