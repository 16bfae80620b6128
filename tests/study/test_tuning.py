import numpy as np
import optuna
import pandas as pd
import pytest

from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.study.tuning import (
    base_trial_params,
    best_params_record,
    run_study,
    study_name_for,
    suggest_config,
    trials_frame,
)

SPLITS = Splits.from_params("2012-12-31", "2013-01-01", "2013-06-28", "2013-07-01")


@pytest.fixture(scope="module")
def returns():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2010-01-01", "2013-12-31", name="date")
    sigma = 0.01 * np.exp(np.cumsum(rng.normal(0, 0.05, len(dates))) * 0.3)
    data = rng.standard_t(5, size=(len(dates), 2)) * sigma[:, None] * 0.8
    return pd.DataFrame(data, index=dates, columns=["a", "b"])


def tiny_base(**kw):
    return DDPMConfig.smoke(max_epochs=1, samples_per_epoch=1024, val_scenarios=32, **kw)


SPACE = {"lr": (1e-3, 3e-3, "log"), "window": [16, 24], "scaling": ["ewma", "global"]}


def test_suggest_config_stays_in_space():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(10):
        trial = study.ask()
        cfg = suggest_config(trial, tiny_base(), SPACE)
        assert 1e-3 <= cfg.lr <= 3e-3
        assert cfg.window in (16, 24) and cfg.scaling in ("ewma", "global")
        assert cfg.n_steps <= cfg.diffusion_steps and cfg.val_steps <= cfg.diffusion_steps


def test_bad_space_entry():
    trial = optuna.create_study().ask()
    with pytest.raises(ValueError, match="search space entry 'lr'"):
        suggest_config(trial, tiny_base(), {"lr": 0.001})


def test_base_trial_params_inside_and_outside_space():
    base = tiny_base(window=24, scaling="ewma", lr=2e-3)
    assert base_trial_params(base, SPACE) == {"lr": 2e-3, "window": 24, "scaling": "ewma"}
    assert base_trial_params(tiny_base(window=90), SPACE) == {}


def test_study_name_changes_with_settings():
    base = tiny_base()
    name = study_name_for(base, SPACE, 1, "abc")
    assert name == study_name_for(base, SPACE, 1, "abc")
    assert name != study_name_for(base, SPACE, 2, "abc")
    assert name != study_name_for(base, SPACE, 1, "abd")
    assert name != study_name_for(tiny_base(lr=1e-3), SPACE, 1, "abc")


def test_run_study_resumes_and_never_reads_test(returns, tmp_path):
    # Test-period returns are poisoned: any read of them would give NaN losses.
    poisoned = returns.copy()
    poisoned.loc[poisoned.index > SPLITS.val_end] = np.nan
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    base = tiny_base(window=24, scaling="ewma", lr=2e-3)
    study = run_study(poisoned, SPLITS, base, 0, 2, None, storage, "s", SPACE)
    states = [t.state for t in study.trials]
    assert len(states) == 2
    assert states[0] == optuna.trial.TrialState.COMPLETE
    # trial 0 is the hand-set configuration
    assert study.trials[0].params == {"lr": 2e-3, "window": 24, "scaling": "ewma"}
    record = best_params_record(study)
    assert record["tuned"] and np.isfinite(record["best_value"])
    assert set(record["best_params"]) == set(SPACE)
    # Same settings, same target: resumes and adds nothing.
    again = run_study(poisoned, SPLITS, base, 0, 2, None, storage, "s", SPACE)
    assert len(again.trials) == 2
    frame = trials_frame(again)
    assert list(frame["number"]) == [0, 1]
    assert {"param_lr", "param_window", "param_scaling", "value", "state"} <= set(frame.columns)


def test_run_study_rejects_zero_trials(returns, tmp_path):
    with pytest.raises(ValueError, match="tune.n_trials must be >= 1"):
        run_study(
            returns, SPLITS, tiny_base(), 0, 0, None, f"sqlite:///{tmp_path / 'x.db'}", "s", SPACE
        )
