import pytest

from diffrisk.baselines.registry import BASELINE_METHODS, SCENARIO_FREE_METHODS
from diffrisk.stages.baseline_settings import baseline_config

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
