"""Tests of the calibrate stage (diffrisk.stages.calibrate) and its use by coverage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from diffrisk.core import paths
from diffrisk.core.compute import Compute
from diffrisk.data.splits import Splits
from diffrisk.forecasts.contract import (
    ALPHAS,
    ScenarioSet,
    risk_frame_from_scenarios,
    validate_forecast_frame,
    var_column,
)
from diffrisk.forecasts.store import load_forecasts, save_forecasts
from diffrisk.stages import calibrate as stage
from diffrisk.stages import coverage

SERIES = ["portfolio", "sp500", "AAA"]
DATA = {
    "series": "portfolio,sp500",
    "train_end": "2015-12-31",
    "val_start": "2016-01-01",
    "val_end": "2017-12-29",
    "test_start": "2018-01-01",
    "test_end": "",
}
BASELINES = {
    "methods": "hs,mc_normal",
    "window": 250,
    "refit_every": 20,
    "min_obs": 500,
    "max_obs": 0,
    "fhs_residuals": 250,
}
CALIBRATE = {
    "methods": "fhs,ddpm",
    "combine": "ddpm:fhs,hs:mc_normal",
    "val_methods": "hs,mc_normal",
    "gamma_grid": "0,0.05,0.2",
    "fallback_gamma": 0.05,
    "weight_grid": "0,0.5,1",
    "fallback_weight": 0.5,
}
#: Scenario scale of each method's test forecasts (test returns have sd 1 % then 2 %).
SCALES = {"fhs": 0.012, "ddpm": 0.009, "hs": 0.011, "mc_normal": 0.013}


def write_inputs(root, test_shift: float = 0.0) -> None:
    """Returns (volatility doubles mid-test), data record and test forecasts of 4 methods."""
    dates = pd.bdate_range("2013-01-01", "2018-12-31", name="date")
    sigma = np.where(dates < pd.Timestamp("2018-07-01"), 0.01, 0.02)[:, None]
    rets = np.random.default_rng(0).standard_normal((len(dates), len(SERIES))) * sigma
    test = dates >= pd.Timestamp(DATA["test_start"])
    rets[test] += test_shift
    returns = pd.DataFrame(rets, index=dates, columns=SERIES)
    paths.returns_file().parent.mkdir(parents=True, exist_ok=True)
    returns.to_parquet(paths.returns_file())
    paths.metrics_dir().mkdir(parents=True, exist_ok=True)
    (paths.metrics_dir() / "data.json").write_text(json.dumps({"data_sha256": "x"}))
    tdates = dates[test]
    realized = rets[test].T
    for i, (name, scale) in enumerate(SCALES.items()):
        z = np.random.default_rng(10 + i).standard_normal((len(SERIES), len(tdates), 200))
        scen = (z * scale * (1 + 0.5 * test_shift)).astype(np.float32)
        frame = risk_frame_from_scenarios(scen, tdates, SERIES, realized)
        save_forecasts(name, frame, ScenarioSet(scen, tdates, SERIES))


def run_stage():
    return stage.run(seed=1, n_scenarios=200, calibrate=CALIBRATE, baselines=BASELINES, data=DATA)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = tmp_path_factory.mktemp("calibrate")
    (root / "dvc.yaml").write_text("stages: {}\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIFFRISK_ROOT", str(root))
        write_inputs(root)
        out = run_stage()
        yield root, out, {m: load_forecasts(m) for m in [*SCALES, *out["forecasts"]]}


def test_writes_every_named_method_and_the_table(result):
    root, out, frames = result
    names = stage.output_methods(CALIBRATE["methods"], CALIBRATE["combine"])
    assert names == ["fhs_aci", "ddpm_aci", "ddpm_mix_fhs", "hs_mix_mc_normal"]
    for name in names:
        assert (root / "data" / "forecasts" / f"{name}.parquet").is_file()
        validate_forecast_frame(frames[name], name)
    for ext in ("csv", "md"):
        assert (root / "reports" / "tables" / f"calibration.{ext}").is_file()
    table = out["table"]
    assert (table.groupby(["method", "alpha"])["chosen"].sum() == 1).all()
    assert set(table.loc[table["parameter"] == "gamma", "source"]) == {"validation"}


def test_wrapped_files_keep_the_rows_and_scale_each_level_positively(result):
    _, out, frames = result
    for name in ("fhs", "ddpm"):
        raw = frames[name].sort_values(["series", "date"]).reset_index(drop=True)
        wrapped = frames[name + "_aci"]
        pd.testing.assert_frame_equal(
            raw[["date", "series", "realized"]], wrapped[["date", "series", "realized"]]
        )
        for a in ALPHAS:
            ratio = wrapped[var_column(a)] / raw[var_column(a)]
            assert (ratio > 0).all()
            if out["gammas"][a] == 0:
                assert np.allclose(ratio, 1.0)


def test_combinations_use_validation_weights_or_the_fallback(result):
    _, out, frames = result
    tab = out["table"].query("parameter == 'weight'")
    assert set(tab.loc[tab["method"] == "ddpm_mix_fhs", "source"]) == {"fallback"}
    assert set(tab.loc[tab["method"] == "hs_mix_mc_normal", "source"]) == {"validation"}
    assert out["weights"]["ddpm_mix_fhs"] == dict.fromkeys(ALPHAS, 0.5)
    raw_a = frames["ddpm"].sort_values(["series", "date"]).reset_index(drop=True)
    raw_b = frames["fhs"].sort_values(["series", "date"]).reset_index(drop=True)
    col = var_column(0.01)
    np.testing.assert_allclose(frames["ddpm_mix_fhs"][col], 0.5 * (raw_a[col] + raw_b[col]))


def test_choices_use_validation_rows_only(tmp_path, monkeypatch, result):
    _, out, _ = result
    monkeypatch.setenv("DIFFRISK_ROOT", str(tmp_path))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    write_inputs(tmp_path, test_shift=-0.01)  # every test return and forecast perturbed
    again = run_stage()
    assert again["gammas"] == out["gammas"]
    assert again["weights"] == out["weights"]
    pd.testing.assert_frame_equal(again["table"], out["table"])
    val = Splits.from_mapping(DATA)
    assert again["forecasts"]["fhs_aci"]["date"].min() >= val.test_start


def test_coverage_tests_the_new_methods_like_any_other(result, monkeypatch):
    root, _, _ = result
    monkeypatch.setenv("DIFFRISK_ROOT", str(root))
    res = coverage.backtest_methods(
        methods="fhs,ddpm,fhs_aci,ddpm_aci,ddpm_mix_fhs",
        benchmark="fhs",
        n_sim=20,
        crash_start="2018-07-01",
        crash_end="2018-09-30",
        headline="portfolio,sp500",
        primary="ddpm",
        seed=1,
        compute=Compute(),
    )
    head = res["headline"]
    assert {"fhs_aci", "ddpm_aci", "ddpm_mix_fhs"} <= set(head["method"])
    dm = res["diebold_mariano"]
    assert {"fhs_aci", "ddpm_mix_fhs"} <= set(dm["method"])


def test_unknown_validation_method_is_named(result):
    with pytest.raises(ValueError, match="calibrate.val_methods names \\['ddpm'\\]"):
        stage.validation_forecasts(
            ["ddpm"], BASELINES, 200, ["sp500"], Splits.from_mapping(DATA), 1
        )
