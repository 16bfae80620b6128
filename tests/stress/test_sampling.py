"""Tests of diffrisk.stress.sampling: guided path generation and the signature prior."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from diffrisk.stress.sampling import (
    SAMPLING_CHUNK,
    SamplerSettings,
    check_paths_request,
    draw_prior_signatures,
    generate_paths,
)
from diffrisk.stress.windows import conditioning_inputs


def test_generate_shapes_and_determinism(model, returns):
    kwargs = {"guidance": 2.0, "n_steps": 5}
    a, info = generate_paths(
        model, returns, ["2004-03-01", "2004-06-01"], 7, {"vol_ratio": 2.0}, seed=11, **kwargs
    )
    b, _ = generate_paths(
        model, returns, ["2004-03-01", "2004-06-01"], 7, {"vol_ratio": 2.0}, seed=11, **kwargs
    )
    c, _ = generate_paths(
        model, returns, ["2004-03-01", "2004-06-01"], 7, {"vol_ratio": 2.0}, seed=12, **kwargs
    )
    assert a.shape == (14, model.config.horizon, returns.shape[1]) and a.dtype == np.float32
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # the conditioning dates are the first day of the paths; history ends the day before
    assert list(info["as_of"]) == [pd.Timestamp("2004-03-01"), pd.Timestamp("2004-06-01")]
    assert info["last_history"].iloc[0] == pd.Timestamp("2004-02-27")


def test_ancestral_sampler_and_chunking_do_not_change_shape_or_seed_result(model, returns):
    a, _ = generate_paths(
        model, returns, ["2004-03-01"], 5, None, guidance=0.0, seed=1, sampler="ddpm"
    )
    b, _ = generate_paths(
        model, returns, ["2004-03-01"], 5, None, guidance=0.0, seed=1, n_steps=5, chunk=2
    )
    c, _ = generate_paths(
        model, returns, ["2004-03-01"], 5, None, guidance=0.0, seed=1, n_steps=5, chunk=64
    )
    assert a.shape == b.shape == (5, model.config.horizon, 4)
    np.testing.assert_allclose(b, c, rtol=1e-5, atol=1e-7)


def test_the_default_chunk_gives_the_paths_of_one_network_call(model, returns):
    # SAMPLING_CHUNK is a speed choice: across a chunk boundary (a last chunk of two rows)
    # the paths equal those of one network call up to float rounding in the last bits
    n = SAMPLING_CHUNK + 2
    kwargs = {"guidance": 1.5, "seed": 3, "n_steps": 3}
    default, _ = generate_paths(model, returns, ["2004-03-01"], n, {"vol_ratio": 2.0}, **kwargs)
    one_call, _ = generate_paths(
        model, returns, ["2004-03-01"], n, {"vol_ratio": 2.0}, chunk=n, **kwargs
    )
    assert default.shape == (n, model.config.horizon, returns.shape[1])
    np.testing.assert_allclose(default, one_call, rtol=1e-6, atol=1e-9)


def test_guidance_weight_zero_equals_the_unconditional_model(model, returns):
    request = {"vol_ratio": 2.5, "cum_return": -0.1, "avg_corr": 0.6}
    unconditional, _ = generate_paths(
        model, returns, ["2004-05-03"], 16, None, guidance=3.0, seed=5, n_steps=5
    )
    zero, _ = generate_paths(
        model, returns, ["2004-05-03"], 16, request, guidance=0.0, seed=5, n_steps=5
    )
    guided, _ = generate_paths(
        model, returns, ["2004-05-03"], 16, request, guidance=1.0, seed=5, n_steps=5
    )
    np.testing.assert_array_equal(zero, unconditional)
    assert not np.allclose(guided, unconditional)


def test_soft_bound_limits_scaled_moves(model, returns):
    paths, info = generate_paths(
        model, returns, ["2004-03-01"], 32, None, guidance=0.0, seed=2, n_steps=5, soft_bound=0.5
    )
    past = returns.loc[returns.index < "2004-03-01"].to_numpy()
    sigma = conditioning_inputs(past, model.config.history).sigma
    assert np.all(np.abs(paths) / sigma <= 0.5 * model.target_abs_max * (1 + 1e-5))


def test_perturbing_returns_from_the_conditioning_date_on_leaves_the_set_unchanged(model, returns):
    as_of = "2004-04-01"
    base, _ = generate_paths(
        model, returns, [as_of], 8, {"vol_ratio": 2.0}, guidance=2.0, seed=4, n_steps=5
    )
    shocked = returns.copy()
    shocked.loc[shocked.index >= as_of] = -0.2
    again, _ = generate_paths(
        model, shocked, [as_of], 8, {"vol_ratio": 2.0}, guidance=2.0, seed=4, n_steps=5
    )
    np.testing.assert_array_equal(base, again)
    # the day before does matter (the history ends there)
    moved = returns.copy()
    moved.loc[moved.index[moved.index < as_of][-1]] = -0.2
    changed, _ = generate_paths(
        model, moved, [as_of], 8, {"vol_ratio": 2.0}, guidance=2.0, seed=4, n_steps=5
    )
    assert not np.array_equal(base, changed)


def test_signature_prior_draws_from_the_nearest_training_windows(model):
    bank, sigs = model.prior_features, model.prior_signatures
    assert bank.shape[0] == sigs.shape[0] > 100 and np.isfinite(sigs).all()
    # the prior is standardised on training windows: mean 0, std 1 per column
    assert sigs.mean(axis=0) == pytest.approx(np.zeros(3), abs=0.05)
    row = bank[[7, 300]]
    one = draw_prior_signatures(model, row, 4, 1, seed=0)
    assert one.shape == (8, 3)
    np.testing.assert_array_equal(one[:4], np.repeat(sigs[[7]], 4, axis=0))
    np.testing.assert_array_equal(one[4:], np.repeat(sigs[[300]], 4, axis=0))
    # k = 5: every draw is the signature of one of the 5 windows nearest in features
    nearest = np.argsort(((bank - bank[7]) ** 2).sum(axis=1), kind="stable")[:5]
    five = draw_prior_signatures(model, bank[[7]], 50, 5, seed=1)
    allowed = {tuple(s) for s in sigs[nearest]}
    assert {tuple(s) for s in five} <= allowed and len({tuple(s) for s in five}) > 1
    np.testing.assert_array_equal(five, draw_prior_signatures(model, bank[[7]], 50, 5, 1))
    empty = dataclasses.replace(model, prior_features=np.empty((0, 0)))
    with pytest.raises(ValueError, match="no signature prior"):
        draw_prior_signatures(empty, bank[[7]], 2, 5, seed=0)


def test_generate_paths_errors(model, returns):
    with pytest.raises(ValueError, match="differ from the model's assets"):
        generate_paths(model, returns.iloc[:, ::-1], [""], 2, None, guidance=0, seed=0)
    with pytest.raises(ValueError, match="guidance must be a finite number >= 0"):
        generate_paths(model, returns, [""], 2, {"vol_ratio": 2}, guidance=-1, seed=0)
    with pytest.raises(ValueError, match="sampler must be one of"):
        generate_paths(model, returns, [""], 2, None, guidance=0, seed=0, sampler="euler")
    with pytest.raises(ValueError, match="unknown signature components"):
        generate_paths(model, returns, [""], 2, {"vol": 2}, guidance=1, seed=0)
    with pytest.raises(ValueError, match="n_paths_per_date must be a positive integer"):
        generate_paths(model, returns, [""], 0, None, guidance=0, seed=0)
    with pytest.raises(ValueError, match="need at least max"):
        generate_paths(model, returns, ["2000-01-10"], 2, None, guidance=0, seed=0)


def test_check_paths_request_returns_the_request_and_names_the_bad_argument(model, returns):
    assert check_paths_request(model, returns, 3, 0, {"vol_ratio": 2}) == {"vol_ratio": 2.0}
    assert check_paths_request(model, returns, 1, 5, None) == {}
    with pytest.raises(ValueError, match="differ from the model's assets"):
        check_paths_request(model, returns.iloc[:, ::-1], 1, 0, None)
    with pytest.raises(ValueError, match="n_paths_per_date must be a positive integer"):
        check_paths_request(model, returns, 1.5, 0, None)
    with pytest.raises(ValueError, match="prior_neighbours must be an integer >= 0"):
        check_paths_request(model, returns, 1, -1, None)
    with pytest.raises(ValueError, match="unknown signature components"):
        check_paths_request(model, returns, 1, 0, {"vol": 2})


def test_batched_guidance_equals_the_two_pass_guidance(model, returns):
    net = copy.deepcopy(model.net)  # a seeded, clearly condition-dependent network
    with torch.no_grad():
        net.out.weight.copy_(
            0.5 * torch.randn(net.out.weight.shape, generator=torch.Generator().manual_seed(0))
        )
        net.signature_mlp[-1].weight.mul_(4.0)
    model = dataclasses.replace(model, net=net.eval())
    kwargs = {"guidance": 2.0, "n_steps": 5, "seed": 4, "chunk": 8}
    request = {"vol_ratio": 2.0, "cum_return": -0.05}
    one, _ = generate_paths(
        model, returns, ["2004-03-01"], 20, request, batched_guidance=True, **kwargs
    )
    two, _ = generate_paths(model, returns, ["2004-03-01"], 20, request, **kwargs)
    scale = float(np.abs(two).max())
    assert scale > 0
    np.testing.assert_allclose(one, two, rtol=0, atol=1e-5 * scale)
    # the guided result differs from the unguided one, so the comparison is not vacuous
    plain, _ = generate_paths(model, returns, ["2004-03-01"], 20, None, **kwargs)
    assert np.abs(plain - two).max() > 100 * 1e-5 * scale


def test_a_scaled_sampler_replaces_the_diffusion_sampler(model, returns):
    seen = {}

    def sampler(context, cond, null, guidance, generator):
        seen.update(rows=context.shape[0], guidance=guidance)
        return torch.ones(context.shape[0], model.net.spec.n_assets, model.net.spec.horizon)

    paths, info = generate_paths(
        model, returns, ["2004-03-01"], 3, {"vol_ratio": 2.0}, guidance=1.5, seed=0,
        scaled_sampler=sampler,
    )  # fmt: skip
    assert seen == {"rows": 3, "guidance": 1.5}
    sigma = conditioning_inputs(
        returns.loc[returns.index < "2004-03-01"].to_numpy(),
        model.config.history,
        lam=model.config.ewma_lambda,
        warmup=model.config.ewma_warmup,
    ).sigma
    np.testing.assert_allclose(paths[0, 0], model.target_scale * sigma, rtol=1e-5)


def _explicit_keywords(*, sampler="ddim", n_steps=20):
    """A signature that lists the sampler keywords (Python's own unknown-keyword error)."""
    return sampler, n_steps


def test_sampler_settings_fill_defaults_and_reject_other_keywords_as_python_does(model, returns):
    with pytest.raises(TypeError) as plain:
        _explicit_keywords(n_stepz=5)
    with pytest.raises(TypeError) as ours:
        SamplerSettings.of("_explicit_keywords", {"n_stepz": 5})
    assert str(ours.value) == str(plain.value)
    with pytest.raises(
        TypeError, match=r"^generate_paths\(\) got an unexpected keyword argument 'n_stepz'$"
    ):
        generate_paths(model, returns, ["2004-03-01"], 2, None, guidance=0.0, seed=0, n_stepz=5)
    settings = SamplerSettings.of("f", {"n_steps": np.int64(5), "eta": 1, "order": np.int64(2)})
    assert settings == SamplerSettings(n_steps=5, eta=1.0, order=2)
    record = settings.record()
    assert list(record) == [f.name for f in dataclasses.fields(SamplerSettings)]
    assert [type(v) for v in record.values()] == [str, int, float, str, int]
