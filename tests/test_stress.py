"""Tests of diffrisk.stress: the multivariate stress-scenario generator and its stages."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from diffrisk.core import audit, io
from diffrisk.core.paths import scenario_set_file, stress_checkpoint
from diffrisk.data.returns import constituent_returns
from diffrisk.evaluation.paths.temporal import partial_autocorrelation, path_autocorrelation
from diffrisk.risk.portfolio import (
    conditional_drawdown,
    minimum_variance_weights,
    parse_portfolios,
    portfolio_path_returns,
    risk_summary,
)
from diffrisk.stages import stress_generate as stress_generate_stage
from diffrisk.stages import stress_train as stress_train_stage
from diffrisk.stages import stress_validate as stress_validate_stage
from diffrisk.stress.archetypes import (
    Archetype,
    parse_archetypes,
    parse_crisis_windows,
    resolve_archetype,
)
from diffrisk.stress.config import GENERATORS, UNCONDITIONAL, StressConfig, StressRangeWarning
from diffrisk.stress.model import (
    StressModel,
    _pacf_torch,
    load_stress_model,
    save_stress_model,
    train_stress_model,
)
from diffrisk.stress.network import _amplitude
from diffrisk.stress.sampling import draw_prior_signatures, generate_paths
from diffrisk.stress.scenario_sets import (
    baseline_scenario_set,
    calibrate_guidance,
    generate_scenario_set,
    read_scenario_set,
    regenerate_scenario_set,
    write_scenario_set,
)
from diffrisk.stress.signatures import (
    N_HISTORY_SCALARS,
    RECENT_DAYS,
    SIGNATURE_COLUMNS,
    _history_scalars,
    historical_signatures,
    signature_features,
    stress_signature,
)
from diffrisk.stress.windows import conditioning_inputs, training_windows

TRAIN_END, VAL_START, VAL_END, TEST_START = "2002-12-31", "2003-01-01", "2003-12-31", "2004-01-01"


def synthetic_returns(n_days: int = 1300, n_assets: int = 4, seed: int = 0) -> pd.DataFrame:
    """One-factor returns with slowly varying volatility (log returns, fractions)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2000-01-03", periods=n_days, name="date")
    log_vol = np.zeros(n_days)
    for t in range(1, n_days):
        log_vol[t] = 0.97 * log_vol[t - 1] + 0.15 * rng.standard_normal()
    factor = rng.standard_normal(n_days)
    eps = rng.standard_normal((n_days, n_assets))
    r = 0.01 * np.exp(log_vol)[:, None] * (0.6 * factor[:, None] + 0.8 * eps)
    return pd.DataFrame(r, index=dates, columns=[f"A{i}" for i in range(n_assets)])


@pytest.fixture(scope="module")
def returns() -> pd.DataFrame:
    return synthetic_returns()


@pytest.fixture(scope="module")
def model(returns) -> StressModel:
    torch.set_num_threads(1)
    return train_stress_model(
        returns, TRAIN_END, VAL_START, VAL_END, StressConfig.smoke(), seed=3, progress=False
    )


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory):
    return save_stress_model(model, tmp_path_factory.mktemp("ckpt") / "stress.pt")


# ----------------------------------------------------------------------------- model
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


def test_pacf_penalty_estimator_matches_validation_suite():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 3, 12))
    x[:, :, 1:] += 0.5 * x[:, :, :-1]
    ours = _pacf_torch(torch.as_tensor(x), 4).numpy()
    acf = path_autocorrelation(np.swapaxes(x, 1, 2), 4)
    np.testing.assert_allclose(ours, partial_autocorrelation(acf), rtol=1e-6, atol=1e-8)


def test_pacf_penalty_trains(returns):
    cfg = dataclasses.replace(StressConfig.smoke(), pacf_weight=1.0)
    fitted = train_stress_model(returns, TRAIN_END, VAL_START, VAL_END, cfg, seed=0, progress=False)
    assert np.isfinite(fitted.history[0]["val_loss"])


def test_signature_features_scale_cum_return_by_forecast_volatility():
    feats = signature_features({"vol_ratio": np.e, "cum_return": -0.2}, 0.01, 16)
    assert feats["vol_ratio"].iloc[0] == pytest.approx(1.0)
    assert feats["cum_return"].iloc[0] == pytest.approx(-0.2 / (0.01 * 4.0))
    assert np.isnan(feats["avg_corr"].iloc[0])


def test_soft_bound_limits_scaled_moves(model, returns):
    paths, info = generate_paths(
        model, returns, ["2004-03-01"], 32, None, guidance=0.0, seed=2, n_steps=5, soft_bound=0.5
    )
    past = returns.loc[returns.index < "2004-03-01"].to_numpy()
    sigma = conditioning_inputs(past, model.config.history).sigma
    assert np.all(np.abs(paths) / sigma <= 0.5 * model.target_abs_max * (1 + 1e-5))


# ----------------------------------------------------------------------------- leakage
def test_training_windows_end_on_or_before_train_end(returns):
    cfg = StressConfig.smoke()
    windows = training_windows(returns, None, TRAIN_END, cfg)
    last_row = returns.index.get_loc(windows.starts[-1]) + cfg.horizon - 1
    assert returns.index[last_row] <= pd.Timestamp(TRAIN_END)
    assert returns.index[last_row + 1] > pd.Timestamp(TRAIN_END)  # the last one that fits
    shocked = returns.copy()
    shocked.loc[shocked.index > TRAIN_END] *= 7.0
    again = training_windows(shocked, None, TRAIN_END, cfg)
    np.testing.assert_array_equal(windows.targets, again.targets)


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


def test_baseline_sets_are_leakage_safe(returns):
    a, meta = baseline_scenario_set("bootstrap", returns, TRAIN_END, ["2004-04-01"], 10, 8, seed=0)
    shocked = returns.copy()
    shocked.loc[shocked.index >= "2004-04-01"] = 0.3
    b, _ = baseline_scenario_set("bootstrap", shocked, TRAIN_END, ["2004-04-01"], 10, 8, seed=0)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (10, 8, 4)
    assert meta["generation"]["generator"] == "bootstrap"


# ----------------------------------------------------------------------------- audit
def test_audit_round_trip_regenerates_the_set_exactly(model, returns, checkpoint, tmp_path):
    arch = Archetype("vol2", {"vol_ratio": 2.0})
    sha = audit.file_sha256(checkpoint)
    paths, meta = generate_scenario_set(
        model,
        returns,
        arch,
        ["2004-02-02", "2004-08-02"],
        6,
        guidance=1.5,
        seed=9,
        n_steps=5,
        checkpoint_sha256=sha,
        data_sha256="abc",
        params={"n_paths": 6},
    )
    file = write_scenario_set(tmp_path / "diffusion_vol2.npz", paths, meta)
    stored, record = read_scenario_set(file)
    np.testing.assert_array_equal(stored, paths)
    for key in (
        "generation",
        "checkpoint_sha256",
        "data_sha256",
        "params",
        "package_version",
        "git_revision",
        "utc_timestamp",
        "returns_sha256",
        "out_of_range",
    ):
        assert key in record
    assert record["generation"]["signature"] == {"vol_ratio": 2.0}
    assert record["generation"]["guidance"] == 1.5 and record["generation"]["seed"] == 9
    assert json.loads((tmp_path / "diffusion_vol2.audit.json").read_text()) == record
    again = regenerate_scenario_set(record, returns, checkpoint)
    np.testing.assert_array_equal(again, stored)


def test_regeneration_refuses_a_different_checkpoint_or_data(model, returns, checkpoint, tmp_path):
    arch = Archetype("u", {})
    _, meta = generate_scenario_set(
        model,
        returns,
        arch,
        ["2004-02-02"],
        2,
        guidance=0.0,
        seed=0,
        n_steps=3,
        checkpoint_sha256="0" * 64,
    )
    with pytest.raises(ValueError, match="SHA-256"):
        regenerate_scenario_set(meta, returns, checkpoint)
    meta["checkpoint_sha256"] = audit.file_sha256(checkpoint)
    changed = returns.copy()
    changed.iloc[100, 0] += 0.01
    with pytest.raises(ValueError, match="returns_sha256"):
        regenerate_scenario_set(meta, changed, checkpoint)
    with pytest.raises(ValueError, match="only 'diffusion'"):
        regenerate_scenario_set({"generation": {"generator": "normal"}}, returns, checkpoint)


def test_out_of_range_request_is_flagged_and_warned(model, returns):
    upper = model.signature_bounds.loc["upper", "vol_ratio"]
    far = Archetype("far", {"vol_ratio": float(upper) * 3})
    with pytest.warns(StressRangeWarning, match="outside the range seen in training"):
        _, meta = generate_scenario_set(
            model, returns, far, ["2004-02-02"], 2, guidance=1.0, seed=0, n_steps=3
        )
    assert meta["out_of_range"] == ["vol_ratio"] and meta["out_of_range_flag"] is True
    inside = Archetype("in", {"vol_ratio": 1.0, "avg_corr": 0.3})
    with warnings.catch_warnings():
        warnings.simplefilter("error", StressRangeWarning)
        _, meta = generate_scenario_set(
            model, returns, inside, ["2004-02-02"], 2, guidance=1.0, seed=0, n_steps=3
        )
    assert meta["out_of_range"] == [] and meta["out_of_range_flag"] is False


def test_checkpoint_round_trip_keeps_the_model(model, checkpoint, returns):
    loaded = load_stress_model(checkpoint)
    a, _ = generate_paths(model, returns, [""], 4, None, guidance=0, seed=0, n_steps=3)
    b, _ = generate_paths(loaded, returns, [""], 4, None, guidance=0, seed=0, n_steps=3)
    np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(loaded.signature_bounds, model.signature_bounds)


# ----------------------------------------------------------------------------- archetypes
def test_parse_archetypes_and_resolve_window(returns):
    specs = parse_archetypes(
        "unconditional; v2: vol_ratio=2; crash: window=2002-03-01/2002-06-28; "
        "late: cum_return=-0.15, as_of=2004-01-05"
    )
    assert [a.name for a in specs] == ["unconditional", "v2", "crash", "late"]
    assert specs[3].as_of == "2004-01-05" and specs[1].signature == {"vol_ratio": 2.0}
    crash = resolve_archetype(specs[2], returns, 10)
    assert set(crash.signature) == set(SIGNATURE_COLUMNS)
    assert "2002-03-01" <= crash.as_of <= "2002-06-28"
    assert crash.source.startswith("worst 10-day window")
    # the worst window: no other window starting in the period has a lower cum_return
    sig = historical_signatures(returns, 10)
    inside = sig[(sig.start >= "2002-03-01") & (sig.start <= "2002-06-28")]
    assert crash.signature["cum_return"] == pytest.approx(inside.cum_return.min())


def test_crisis_windows_are_labelled_relative_to_the_splits():
    windows = parse_crisis_windows(
        "a=2001-01-01/2001-06-30; b=2003-02-01/2003-05-01; c=2004-02-01/2004-08-01",
        TRAIN_END,
        TEST_START,
    )
    assert [w.label for w in windows] == ["in-sample", "validation", "held out"]


# ----------------------------------------------------------------------------- risk
def test_minimum_variance_weights_closed_form():
    cov = np.array([[1.0, 0.3], [0.3, 2.0]])
    z = np.random.default_rng(0).multivariate_normal([0, 0], cov, size=400_000)
    inv = np.linalg.inv(cov) @ np.ones(2)
    np.testing.assert_allclose(minimum_variance_weights(z), inv / inv.sum(), atol=0.01)


def test_drawdown_and_risk_summary_on_known_paths():
    daily = np.array([[0.05, -0.10, -0.05, 0.20], [-0.01, -0.01, -0.01, -0.01]])
    np.testing.assert_allclose(conditional_drawdown(daily), [-0.15, -0.04])
    paths = np.repeat(daily[:, :, None], 2, axis=2)  # two identical assets
    table = risk_summary(paths, {"ew": np.array([0.5, 0.5])}, alphas=(0.5,))
    row = table.iloc[0]
    assert row["var"] == pytest.approx(-0.04) and row["es"] == pytest.approx(-0.04)
    assert row["cdar"] == pytest.approx(-0.15)  # worst half of the drawdowns
    assert row["mean_return"] == pytest.approx((0.10 - 0.04) / 2)


def test_portfolios_spec():
    train = synthetic_returns(300)
    w = parse_portfolios("ew=all; pair=A0,A2; mv=minvar", list(train.columns), train)
    np.testing.assert_allclose(w["ew"], 0.25)
    np.testing.assert_allclose(w["pair"], [0.5, 0, 0.5, 0])
    assert w["mv"].sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- errors
def test_error_paths(model, returns, tmp_path):
    with pytest.raises(ValueError, match="horizon must be >= 2"):
        StressConfig(horizon=1, pacf_lags=1)
    with pytest.raises(ValueError, match="unknown stress.model parameters"):
        StressConfig.from_dict({"widht": 3})
    with pytest.raises(ValueError, match="p_uncond must be in"):
        StressConfig(p_uncond=1.0)
    with pytest.raises(ValueError, match="pacf_lags must be < horizon"):
        StressConfig(horizon=5, pacf_lags=5)
    with pytest.raises(ValueError, match="unknown key 'vol'"):
        parse_archetypes("x: vol=2")
    with pytest.raises(ValueError, match="has no signature value and no window"):
        parse_archetypes("x")
    with pytest.raises(ValueError, match="takes no signature"):
        parse_archetypes("unconditional: vol_ratio=2")
    with pytest.raises(ValueError, match="duplicate archetype"):
        parse_archetypes("a: vol_ratio=2; a: vol_ratio=3")
    with pytest.raises(ValueError, match="not a number"):
        parse_archetypes("a: vol_ratio=big")
    with pytest.raises(ValueError, match="must start before it ends"):
        parse_crisis_windows("c=2004-01-01/2003-01-01", TRAIN_END, TEST_START)
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
    with pytest.raises(ValueError, match="not among the constituents"):
        parse_portfolios("x=ZZZ", ["A0"], returns)
    with pytest.raises(ValueError, match="weights must sum to 1"):
        portfolio_path_returns(np.zeros((2, 3, 2)), [0.5, 0.6])
    with pytest.raises(ValueError, match="kind must be 'normal' or 'bootstrap'"):
        baseline_scenario_set("gan", returns, TRAIN_END, [""], 2, 5, seed=0)
    with pytest.raises(FileNotFoundError, match="run the stress_generate stage"):
        read_scenario_set(tmp_path / "missing.npz")
    torch.save({"kind": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a stress-model checkpoint"):
        load_stress_model(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="val_start=.* must be after train_end"):
        train_stress_model(returns, VAL_START, TRAIN_END, VAL_END, StressConfig.smoke(), seed=0)
    with pytest.raises(ValueError, match="at least 2 constituent columns"):
        constituent_returns(returns[["A0"]].assign(portfolio=0.0))


# ----------------------------------------------------------------------------- stages
def test_stages_end_to_end_on_the_smoke_setting(project_tmp):
    from diffrisk.core import paths
    from diffrisk.data.returns import load_returns
    from diffrisk.data.splits import Splits
    from diffrisk.risk.portfolio import portfolio_returns

    cons = synthetic_returns(1300, 4, seed=7)
    frame = pd.concat(
        [portfolio_returns(cons).rename("portfolio"), cons.mean(axis=1).rename("sp500"), cons],
        axis=1,
    )
    io.write_parquet(paths.returns_file(), frame)
    io.write_json(paths.metrics_dir() / "data.json", {"data_sha256": "f" * 64})
    splits = Splits.from_params(TRAIN_END, VAL_START, VAL_END, TEST_START)

    trained = stress_train_stage.run(
        model=StressConfig.smoke().to_dict(), splits=splits, seed=1, progress=False
    )
    assert trained["metrics"]["epochs_run"] == 1
    with pytest.warns(StressRangeWarning):
        generated = stress_generate_stage.run(
            archetypes="unconditional; v2: vol_ratio=2; far: vol_ratio=40; "
            "crash: window=2002-03-01/2002-06-28",
            n_paths=64,
            unconditional_every=60,
            unconditional_paths_per_date=16,
            guidance="auto",
            guidance_grid="1,2",
            calibration_paths=8,
            n_steps=4,
            splits=splits,
            seed=1,
        )
    assert len(generated["index"]) == 12
    chosen = generated["index"].set_index(["generator", "archetype"])["guidance"]
    assert chosen[("diffusion", "unconditional")] == 1.25  # the signature prior's weight
    _, unc_meta = read_scenario_set(scenario_set_file("diffusion", "unconditional"))
    assert unc_meta["generation"]["prior_neighbours"] == 50
    assert chosen[("diffusion", "v2")] in (1.0, 2.0)
    validated = stress_validate_stage.run(
        crisis_windows="c1=2002-03-01/2002-09-30; c2=2004-03-01/2004-09-30",
        portfolios="ew=all; pair=A0,A1; mv=minvar",
        splits=splits,
        seed=1,
    )

    for stem in ("stress_validation", "stress_signatures", "stress_risk"):
        assert (paths.tables_dir() / f"{stem}.csv").is_file()
        assert (paths.tables_dir() / f"{stem}.md").is_file()
    for stem in (
        "stress_corr_heatmaps",
        "stress_tail_dependence",
        "stress_fan_charts",
        "stress_acf",
    ):
        assert (paths.figures_dir() / f"{stem}.png").is_file()
        assert (paths.figures_dir() / f"{stem}.pdf").is_file()
    metrics = json.loads((paths.metrics_dir() / "stress.json").read_text())
    assert metrics["out_of_range"]["far"] == ["vol_ratio"]
    val = validated["validation"]
    assert set(val["generator"]) == set(GENERATORS)
    assert set(val.loc[val.archetype == "unconditional", "reference"]) == {"test"}
    assert set(val.loc[val.archetype == "v2", "reference_label"]) == {"in-sample", "held out"}
    sig = validated["signatures"]
    assert len(sig[(sig.archetype == "crash") & (sig.generator == "diffusion")]) == 3
    assert "## Stress scenarios" in validated["section"]
    assert "of 3 headline metrics" in validated["section"]
    # every written diffusion set regenerates from its metadata
    stored, meta = read_scenario_set(scenario_set_file("diffusion", "v2"))
    cons_now = constituent_returns(load_returns())
    again = regenerate_scenario_set(meta, cons_now, stress_checkpoint())
    np.testing.assert_array_equal(again, stored)


def test_history_features_measure_correlation_and_recent_volatility():
    # one common factor plus idiosyncratic noise with variance ratio 3:1 -> pairwise
    # correlation 0.75; independent assets -> 0 (standard error ~0.02 with 2,000 days)
    rng = np.random.default_rng(0)
    common = rng.standard_normal((1, 2000))
    correlated = np.sqrt(0.75) * common + 0.5 * rng.standard_normal((6, 2000))
    independent = rng.standard_normal((6, 2000))
    feats = _history_scalars(
        np.full((2, 6), 0.01), [0.02, 0.03], np.stack([correlated, independent])
    )
    assert feats.shape == (2, N_HISTORY_SCALARS)
    assert feats[:, 0] == pytest.approx(np.log([0.02, 0.03]))
    assert feats[:, 1] == pytest.approx(np.log(0.01))
    assert feats[0, 2] == pytest.approx(0.75, abs=0.03)
    assert feats[1, 2] == pytest.approx(0.0, abs=0.03)
    # the last RECENT_DAYS days: doubling them moves the log-RMS feature by log 2 only
    calm = rng.standard_normal((1, 4, 60))
    loud = calm.copy()
    loud[..., -RECENT_DAYS:] *= 2.0
    diff = _history_scalars(np.ones(4), 1.0, loud) - _history_scalars(np.ones(4), 1.0, calm)
    assert diff[0, 4] == pytest.approx(np.log(2.0))
    assert diff[0, 3] == pytest.approx(0.0, abs=1e-12)  # correlation is scale-free


def test_amplitude_features_are_log_scales():
    x = torch.randn(3, 5, 7)
    a, b = _amplitude(x), _amplitude(4.0 * x)
    assert (b - a).numpy() == pytest.approx(np.full((3, 2), np.log(4.0)), abs=1e-5)
    same = torch.ones(1, 5, 7)  # identical assets: the market mean has the full amplitude
    assert _amplitude(same).numpy() == pytest.approx(np.zeros((1, 2)), abs=1e-5)


def test_calibrated_guidance_minimises_the_pilot_error(model, returns):
    request, dates = {"vol_ratio": 1.8, "cum_return": -0.05}, ["2004-03-01"]
    grid = (2.0, 0.5, 1.0)
    w, record = calibrate_guidance(
        model, returns, request, dates, grid, n_paths_per_date=16, seed=4, n_steps=5
    )
    assert record["grid"] == [0.5, 1.0, 2.0] and len(record["score"]) == 3
    assert w == record["grid"][int(np.argmin(record["score"]))]
    # the score is the largest relative error of the pilot's mean signature
    pilot, info = generate_paths(
        model, returns, dates, 16, request, guidance=1.0, seed=4, n_steps=5
    )
    achieved = stress_signature(pilot, np.repeat(info["portfolio_vol"], 16)).mean()
    expected = max(abs(achieved[c] / v - 1.0) for c, v in request.items())
    assert record["score"][1] == pytest.approx(expected)
    # an out-of-range component is left out of the score when another is in range
    _, rec = calibrate_guidance(
        model,
        returns,
        {"vol_ratio": 40.0, "cum_return": -0.05},
        dates,
        (1.0,),
        n_paths_per_date=4,
        seed=4,
        n_steps=3,
    )
    assert rec["components"] == ["cum_return"]
    assert calibrate_guidance(model, returns, {}, dates, seed=0)[0] == 0.0
    with pytest.raises(ValueError, match="guidance grid must hold finite weights"):
        calibrate_guidance(model, returns, request, dates, (1.0, -1.0), seed=0)


def test_auto_guidance_is_recorded_and_regenerates_exactly(model, returns, checkpoint):
    arch = Archetype("dip", {"cum_return": -0.08})
    paths_, meta = generate_scenario_set(
        model,
        returns,
        arch,
        ["2004-02-02"],
        6,
        guidance="auto",
        guidance_grid=(1.0, 2.0),
        calibration_paths=8,
        seed=9,
        n_steps=4,
        checkpoint_sha256=audit.file_sha256(checkpoint),
    )
    gen = meta["generation"]
    w, record = calibrate_guidance(
        model,
        returns,
        arch.signature,
        ["2004-02-02"],
        (1.0, 2.0),
        n_paths_per_date=8,
        seed=10,
        n_steps=4,
    )
    assert gen["guidance"] == w and gen["guidance_calibration"] == record
    np.testing.assert_array_equal(regenerate_scenario_set(meta, returns, checkpoint), paths_)
    with pytest.raises(ValueError, match="a number >= 0 or 'auto'"):
        generate_scenario_set(model, returns, arch, ["2004-02-02"], 2, guidance="max", seed=0)


def test_ablation_switches_train_sample_and_round_trip(returns, tmp_path):
    config = dataclasses.replace(
        StressConfig.smoke(), history_stats=False, amplitude_embedding=False
    )
    plain = train_stress_model(
        returns, TRAIN_END, VAL_START, VAL_END, config, seed=3, progress=False
    )
    assert plain.net.spec.n_scalars == 2 and plain.net.amplitude is None
    assert plain.scalar_mean.shape == (2,)
    a, _ = generate_paths(plain, returns, ["2004-03-01"], 4, None, guidance=0, seed=1, n_steps=5)
    again = load_stress_model(save_stress_model(plain, tmp_path / "plain.pt"))
    b, _ = generate_paths(again, returns, ["2004-03-01"], 4, None, guidance=0, seed=1, n_steps=5)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all()


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


def test_prior_sets_are_leakage_safe_deterministic_and_regenerate(
    model, returns, checkpoint, tmp_path
):
    kwargs = {"guidance": 1.25, "seed": 4, "n_steps": 5, "prior_neighbours": 10}
    base, _ = generate_paths(model, returns, ["2004-04-01"], 8, None, **kwargs)
    plain, _ = generate_paths(
        model, returns, ["2004-04-01"], 8, None, guidance=0, seed=4, n_steps=5
    )
    assert not np.array_equal(base, plain)
    shocked = returns.copy()
    shocked.loc[shocked.index >= "2004-04-01"] = -0.2
    again, _ = generate_paths(model, shocked, ["2004-04-01"], 8, None, **kwargs)
    np.testing.assert_array_equal(base, again)
    arch = Archetype(UNCONDITIONAL, {})
    paths_, meta = generate_scenario_set(
        model,
        returns,
        arch,
        ["2004-02-02", "2004-05-03"],
        6,
        guidance=1.25,
        seed=3,
        n_steps=4,
        prior_neighbours=10,
        checkpoint_sha256=audit.file_sha256(checkpoint),
    )
    assert meta["generation"]["prior_neighbours"] == 10
    np.testing.assert_array_equal(regenerate_scenario_set(meta, returns, checkpoint), paths_)
    with pytest.raises(ValueError, match="prior_neighbours must be an integer >= 0"):
        generate_paths(model, returns, [""], 2, None, guidance=1, seed=0, prior_neighbours=-1)
