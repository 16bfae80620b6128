import numpy as np
import pandas as pd
import pytest

from diffrisk.baselines.registry import BASELINE_METHODS, SCENARIO_FREE_METHODS, run_baselines
from diffrisk.stages.baseline_settings import baseline_config, baseline_settings, period_baselines

SECTION = {
    "methods": "ignored",
    "window": "250",
    "refit_every": 20,
    "min_obs": 500,
    "max_obs": 5000,
    "fhs_residuals": 1000,
}


def test_every_baseline_gets_its_settings_from_the_section():
    config = baseline_config(BASELINE_METHODS, SECTION, 100)
    refits = {"refit_every": 20, "min_obs": 500, "max_obs": 5000}
    assert config == {
        "hs": {"window": 250},
        "mc_normal": {"window": 250, "n_scenarios": 100},
        "garch_t": {**refits, "n_scenarios": 100},
        "fhs": {**refits, "n_scenarios": 1000},
        **{m: refits for m in SCENARIO_FREE_METHODS},
    }
    assert set(config) == set(BASELINE_METHODS)
    # a fresh dict per method: one caller's change does not leak into another method's
    config["gas"]["max_obs"] = 1
    assert config["es_caviar"]["max_obs"] == 5000


def test_only_the_requested_methods_and_zero_max_obs_is_an_expanding_window():
    config = baseline_config(["fhs", "es_caviar"], {**SECTION, "max_obs": 0}, 100)
    assert config == {
        "fhs": {"refit_every": 20, "min_obs": 500, "max_obs": None, "n_scenarios": 1000},
        "es_caviar": {"refit_every": 20, "min_obs": 500, "max_obs": None},
    }
    assert baseline_config([], SECTION, 100) == {}


def test_a_missing_or_non_integer_setting_raises():
    with pytest.raises(ValueError, match="invalid literal for int"):
        baseline_config(["hs"], {**SECTION, "window": "two hundred"}, 100)
    with pytest.raises(KeyError, match="fhs_residuals"):
        baseline_config(["hs"], {k: v for k, v in SECTION.items() if k != "fhs_residuals"}, 100)


def test_each_setting_is_read_once_as_an_int():
    assert baseline_settings(SECTION) == {
        "refit_every": 20,
        "min_obs": 500,
        "max_obs": 5000,
        "window": 250,
        "fhs_residuals": 1000,
    }
    assert baseline_settings({**SECTION, "max_obs": "0"})["max_obs"] is None
    with pytest.raises(KeyError, match="min_obs"):
        baseline_settings({k: v for k, v in SECTION.items() if k != "min_obs"})


def _tiny() -> pd.DataFrame:
    """Three i.i.d. normal series of 80 days, columns out of name order."""
    rng = np.random.default_rng(4)
    dates = pd.bdate_range("2020-01-01", periods=80, name="date")
    return pd.DataFrame(rng.normal(0, 0.01, (80, 3)), index=dates, columns=["c", "a", "b"])


def _assert_same(left, right) -> None:
    assert list(left) == list(right)
    for method, (frame, scen) in right.items():
        pd.testing.assert_frame_equal(left[method][0], frame, check_exact=True)
        assert np.array_equal(left[method][1].scenarios, scen.scenarios)
        assert left[method][1].series == scen.series


def test_period_baselines_is_run_baselines_with_the_stage_config():
    returns = _tiny()
    dates = returns.index[-4:]
    section = {**SECTION, "window": 30}
    methods = ["mc_normal", "hs"]
    out = period_baselines(returns, dates, methods, section, 40, 7, series=("b", "c"))
    config = baseline_config(methods, section, 40)
    _assert_same(out, run_baselines(returns, dates, methods, config, seed=7, series=["b", "c"]))
    assert out["hs"][0]["series"].unique().tolist() == ["b", "c"]
    assert out["mc_normal"][1].scenarios.shape == (2, 4, 40)
    # the seed is the study seed: another one draws other Monte-Carlo scenarios
    other = period_baselines(returns, dates, methods, section, 40, 8, series=("b", "c"))
    assert not np.array_equal(other["mc_normal"][1].scenarios, out["mc_normal"][1].scenarios)


def test_workers_of_the_section_reach_run_baselines(monkeypatch):
    # the fan-out itself (one Dask task per series, the same bytes) is tested with
    # run_baselines in tests/baselines/test_registry.py; here: the section's key reaches it
    import diffrisk.stages.baseline_settings as module

    returns = _tiny()
    dates = returns.index[-3:]
    section = {**SECTION, "window": 30}
    seen = []
    real = module.run_baselines

    def spy(*args, workers=1, **kwargs):
        seen.append(workers)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "run_baselines", spy)
    one = period_baselines(returns, dates, ["hs", "mc_normal"], section, 20, 3)
    two = period_baselines(returns, dates, ["hs", "mc_normal"], {**section, "workers": 2}, 20, 3)
    assert seen == [1, 2]
    _assert_same(two, one)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="workers"):
        period_baselines(returns, dates, ["hs"], {**section, "workers": 0}, 20, 3)
