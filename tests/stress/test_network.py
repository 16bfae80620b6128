"""Tests of diffrisk.stress.network: the stress denoiser."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffrisk.stress.network import StressDenoiser, StressSpec, amplitude_features


def _spec(asset_attention: int, n_assets: int = 3, amplitude: bool = True) -> StressSpec:
    return StressSpec(
        n_assets, 6, 10, 8, 2, 8, 1, 16, amplitude=amplitude, asset_attention=asset_attention
    )


def _call(net: StressDenoiser, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a, h, d = net.spec.n_assets, net.spec.horizon, net.spec.emb_dim
    x = torch.randn(2, a, h, generator=g)
    ctx, sig = torch.randn(2, d, generator=g), torch.randn(2, d, generator=g)
    with torch.no_grad():
        return net(x, torch.tensor([3, 11]), ctx, sig)


def test_guided_prediction_is_the_cfg_mixture(model):
    """eps = eps_null + w (eps_cond - eps_null), checked on one network call."""
    net = model.net
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, model.config.horizon, generator=g)
    t = torch.full((3,), 7)
    ctx = torch.randn(3, net.spec.emb_dim, generator=g)
    vals = torch.randn(3, 3, generator=g)
    with torch.no_grad():
        null = net.embed_signature(torch.zeros(3, 3), torch.ones(3, 3))
        cond = net.embed_signature(vals, torch.zeros(3, 3))
        e0, e1 = net(x, t, ctx, null), net(x, t, ctx, cond)
        # a masked component ignores its value (NaN included)
        nan_vals = vals.clone()
        nan_vals[:, 1] = float("nan")
        mask = torch.tensor([[0.0, 1.0, 0.0]]).expand(3, 3)
        a = net.embed_signature(nan_vals, mask)
        b = net.embed_signature(vals, mask)
    assert torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    assert not torch.allclose(e0, e1)


def testamplitude_features_features_are_log_scales():
    x = torch.randn(3, 5, 7)
    a, b = amplitude_features(x), amplitude_features(4.0 * x)
    assert (b - a).numpy() == pytest.approx(np.full((3, 2), np.log(4.0)), abs=1e-5)
    same = torch.ones(1, 5, 7)  # identical assets: the market mean has the full amplitude
    assert amplitude_features(same).numpy() == pytest.approx(np.zeros((1, 2)), abs=1e-5)


@pytest.mark.parametrize("amplitude", [True, False])
def test_asset_attention_is_added_last_and_starts_as_the_network_without_it(amplitude):
    """Same seed: the attention-free weights are drawn as without the option, the
    attention modules are extra, and the zero-initialised input map leaves the output
    unchanged; 0 layers builds no attention module at all."""
    torch.manual_seed(5)
    plain = StressDenoiser(_spec(0, amplitude=amplitude))
    torch.manual_seed(5)
    attn = StressDenoiser(_spec(2, amplitude=amplitude))
    base, full = plain.state_dict(), attn.state_dict()
    assert plain.attention is None and plain.attention_in is None
    assert not any(k.startswith("attention") for k in base)
    assert list(full)[: len(base)] == list(base)
    assert all(k.startswith("attention") for k in list(full)[len(base) :])
    assert all(torch.equal(base[k], full[k]) for k in base)
    assert len(attn.attention.layers) == 2
    torch.testing.assert_close(_call(attn), _call(plain), rtol=0, atol=0)


@pytest.mark.parametrize("n_assets", [1, 3])
def test_asset_attention_reaches_the_output_for_any_number_of_assets(n_assets):
    torch.manual_seed(0)
    net = StressDenoiser(_spec(1, n_assets=n_assets))
    with torch.no_grad():
        for p in (net.out.weight, net.attention_in.weight):
            p.normal_(0.0, 0.3)
        before = _call(net)
        net.attention.token.weight.normal_()
        after = _call(net)
    assert before.shape == (2, n_assets, 6)
    assert (after - before).abs().min() > 1e-6


def test_attention_parameters_stay_small_at_the_default_width():
    """One or two layers add at most half the parameters of the network without them."""
    from diffrisk.stress.config import StressConfig

    c = StressConfig()
    counts = {}
    for layers in (0, 1, 2):
        spec = StressSpec(
            21, c.horizon, c.history, c.width, c.n_blocks, c.history_width,
            c.history_blocks, c.emb_dim, asset_attention=layers,
        )  # fmt: skip
        counts[layers] = sum(p.numel() for p in StressDenoiser(spec).parameters())
    assert counts[0] < counts[1] < counts[2] <= 1.5 * counts[0]
