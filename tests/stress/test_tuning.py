"""Tests of diffrisk.stress.tuning: equal-budget Optuna studies on a tiny setup."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
import torch

from diffrisk.stress.comparison import ComparisonConfig
from diffrisk.stress.config import StressConfig
from diffrisk.stress.tuning import (
    FIELDS,
    TuningConfig,
    apply_params,
    check_space,
    tune_generator,
)
from tests.stress.conftest import TRAIN_END, VAL_END, VAL_START

DATES = (TRAIN_END, VAL_START, VAL_END)
TINY = {"width": (8, 16), "lr": (1e-3, 3e-3), "epochs": (1, 2)}
TUNING = TuningConfig(enabled=True, n_trials=2, trial_seconds=600.0, seed=5, val_windows=64)
CONFIG = dataclasses.replace(StressConfig.smoke(), diffusion_steps=20)


def _study(generator, returns, tuning=TUNING, space=TINY):
    torch.set_num_threads(1)
    return tune_generator(
        generator, returns, DATES, CONFIG, ComparisonConfig.smoke(), tuning, space
    )


@pytest.mark.parametrize("generator", ["diffusion", "gan", "vae"])
def test_a_two_trial_study_runs_and_is_deterministic(generator, returns):
    first = _study(generator, returns)
    trials = first.trials
    assert len(trials) == 2 and list(trials["trial"]) == [0, 1]
    names = FIELDS[generator]
    assert set(first.best_params) == {names["width"], names["lr"], names["epochs"]}
    assert trials[names["width"]].isin(TINY["width"]).all()
    assert trials[names["epochs"]].between(1, 2).all()
    assert (trials["epochs_run"] <= trials[names["epochs"]]).all()
    assert not trials["capped"].any()
    assert first.best_score == trials["score"].min() > 0
    # the returned model is the best trial's: its width and epochs
    best = trials.loc[trials["score"].idxmin()]
    assert len(first.model.history) == best["epochs_run"]
    assert first.model.net.spec.width == best[names["width"]]
    assert first.record()["n_trials"] == 2
    again = _study(generator, returns)
    pd.testing.assert_frame_equal(
        trials.drop(columns="train_seconds"), again.trials.drop(columns="train_seconds")
    )


def test_the_test_period_is_never_read(returns):
    """Changing every row after val_end leaves the study unchanged."""
    later = returns.index > pd.Timestamp(VAL_END)
    changed = returns.copy()
    changed.loc[later] = changed.loc[later] * 5.0 + 0.01
    a, b = _study("gan", returns), _study("gan", changed)
    pd.testing.assert_frame_equal(
        a.trials.drop(columns="train_seconds"), b.trials.drop(columns="train_seconds")
    )


def test_the_time_cap_binds(returns):
    capped = dataclasses.replace(TUNING, trial_seconds=0.05)
    result = _study("vae", returns, capped, {**TINY, "epochs": (30, 30)})
    assert result.trials["capped"].all()
    assert (result.trials["epochs_run"] < 30).all()


def test_the_tuned_values_replace_the_defaults():
    tuned = apply_params(ComparisonConfig.smoke(), {"width": 48, "gan_lr": 5e-4})
    assert (tuned.width, tuned.gan_lr) == (48, 5e-4)
    assert tuned.vae_lr == ComparisonConfig.smoke().vae_lr


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"n_trials": 0}, "n_trials"),
        ({"n_trials": 2.5}, "n_trials"),
        ({"trial_seconds": 0}, "trial_seconds"),
        ({"trial_seconds": float("inf")}, "trial_seconds"),
        ({"seed": -1}, "seed"),
        ({"val_windows": 0}, "val_windows"),
        ({"enabled": "yes"}, "enabled"),
    ],
)
def test_bad_settings_are_refused_naming_the_parameter(values, name):
    with pytest.raises(ValueError, match=f"stress.tuning.{name}"):
        TuningConfig(**values)
    with pytest.raises(ValueError, match="unknown stress.tuning parameters"):
        TuningConfig.from_dict({"trials": 3})


def test_bad_search_spaces_and_generators_are_refused(returns):
    with pytest.raises(ValueError, match="width"):
        check_space({**TINY, "width": (0,)})
    with pytest.raises(ValueError, match="multiples of 8"):
        check_space({**TINY, "width": (12,)})
    with pytest.raises(ValueError, match="lr"):
        check_space({**TINY, "lr": (0.0, 1e-3)})
    with pytest.raises(ValueError, match="epochs"):
        check_space({**TINY, "epochs": (3, 2)})
    with pytest.raises(ValueError, match="keys"):
        check_space({"width": (8,)})
    with pytest.raises(ValueError, match="generator must be one of"):
        _study("normal", returns)
