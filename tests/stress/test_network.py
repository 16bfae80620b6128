"""Tests of diffrisk.stress.network: the stress denoiser."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffrisk.stress.network import amplitude_features


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
