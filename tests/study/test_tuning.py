from dataclasses import replace

import numpy as np
import optuna
import pandas as pd
import pytest

from diffrisk.data.prices import DataError
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.study import tuning
from diffrisk.study.tuning import (
    DEFAULT_SPACE,
    WORKER_ATTR,
    TuneSettings,
    base_trial_params,
    best_params_record,
    create_study,
    finished_trials,
    make_objective,
    run_study,
    selection_data,
    study_name_for,
    suggest_config,
    trials_frame,
    worker_id,
)

# Inner validation (tuning) 2013-01-01..2013-03-29; outer validation until 2013-06-28.
SPLITS = Splits.from_params(
    "2012-12-31", "2013-01-01", "2013-06-28", "2013-07-01", select_end="2013-03-29"
)
PRUNED, COMPLETE = optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.COMPLETE


@pytest.fixture(scope="module")
def returns():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2010-01-01", "2013-12-31", name="date")
    sigma = 0.01 * np.exp(np.cumsum(rng.normal(0, 0.05, len(dates))) * 0.3)
    data = rng.standard_t(5, size=(len(dates), 2)) * sigma[:, None] * 0.8
    return pd.DataFrame(data, index=dates, columns=["a", "b"])


def tiny_base(**kw):
    values = dict(max_epochs=3, patience=9, samples_per_epoch=1024, val_scenarios=32)
    return DDPMConfig.smoke(**{**values, **kw})


SPACE = {"lr": (1e-3, 3e-3, "log"), "window": [20, 24], "scaling": ["ewma", "global"]}
SETTINGS = TuneSettings(n_trials=6, n_startup_trials=2, min_resource=1, reduction_factor=2)


def sqlite(tmp_path, name):
    return f"sqlite:///{tmp_path / name}.db"


def tiny_study(returns, tmp_path, name, settings=SETTINGS, **kw):
    base = tiny_base(window=24, scaling="ewma", lr=2e-3)
    return run_study(returns, SPLITS, base, 0, settings, sqlite(tmp_path, name), "s", SPACE, **kw)


# ------------------------------------------------------------------------------ space
def test_suggest_config_stays_in_space():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(10):
        trial = study.ask()
        cfg = suggest_config(trial, tiny_base(), SPACE)
        assert 1e-3 <= cfg.lr <= 3e-3
        assert cfg.window in (20, 24) and cfg.scaling in ("ewma", "global")
        assert cfg.n_steps <= cfg.diffusion_steps and cfg.val_steps <= cfg.diffusion_steps


def test_every_default_space_value_is_a_valid_config():
    base = DDPMConfig()
    for name, choice in DEFAULT_SPACE.items():
        values = choice[:2] if choice[-1] == "log" else choice
        for value in values:
            assert getattr(replace(base, **{name: value}), name) == value
    # and random combinations, with the DDIM steps capped by the diffusion steps
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        cfg = suggest_config(study.ask(), base, DEFAULT_SPACE)
        assert cfg.val_steps <= cfg.diffusion_steps and cfg.n_steps <= cfg.diffusion_steps


def test_default_config_is_trial_zero_of_the_default_space():
    assert base_trial_params(DDPMConfig(), DEFAULT_SPACE) == {
        name: getattr(DDPMConfig(), name) for name in DEFAULT_SPACE
    }


def test_bad_space_entry():
    trial = optuna.create_study().ask()
    with pytest.raises(ValueError, match="search space entry 'lr'"):
        suggest_config(trial, tiny_base(), {"lr": 0.001})


def test_base_trial_params_inside_and_outside_space():
    base = tiny_base(window=24, scaling="ewma", lr=2e-3)
    assert base_trial_params(base, SPACE) == {"lr": 2e-3, "window": 24, "scaling": "ewma"}
    assert base_trial_params(tiny_base(window=90), SPACE) == {}


# ---------------------------------------------------------------------- settings, names
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_trials", 0),
        ("n_trials", 2.5),
        ("n_startup_trials", -1),
        ("min_resource", 0),
        ("reduction_factor", 1),
        ("timeout", 0.0),
    ],
)
def test_bad_settings_name_the_parameter(field, value):
    with pytest.raises(ValueError, match=f"tune.{field} must be"):
        TuneSettings(**{field: value})


def test_min_resource_beyond_max_epochs(returns, tmp_path):
    settings = replace(SETTINGS, min_resource=4)
    with pytest.raises(ValueError, match=r"tune.min_resource \(4\) must be <= .* max_epochs \(3\)"):
        tiny_study(returns, tmp_path, "x", settings)


def test_objective_needs_fz0_selection_and_nested_splits(returns):
    with pytest.raises(ValueError, match="select_by='fz0'"):
        make_objective(returns, SPLITS, tiny_base(select_by="loss"), 0, SPACE)
    flat = replace(SPLITS, select_end=None)
    with pytest.raises(DataError, match="select_end"):
        make_objective(returns, flat, tiny_base(), 0, SPACE)


def test_selection_data_is_the_inner_validation(returns):
    visible, selection = selection_data(returns, SPLITS)
    assert visible.index.max() == pd.Timestamp("2013-03-29")
    assert (selection.val_start, selection.val_end) == (SPLITS.val_start, SPLITS.select_end)
    assert selection.train_end == SPLITS.train_end


def test_study_name_changes_with_the_search_not_the_budget():
    base = tiny_base()
    name = study_name_for(base, SPACE, 1, "abc", SETTINGS)
    assert name == study_name_for(base, SPACE, 1, "abc", replace(SETTINGS, n_trials=50))
    assert name == study_name_for(base, SPACE, 1, "abc", replace(SETTINGS, timeout=9.0))
    assert name != study_name_for(base, SPACE, 2, "abc", SETTINGS)
    assert name != study_name_for(base, SPACE, 1, "abd", SETTINGS)
    assert name != study_name_for(tiny_base(lr=1e-3), SPACE, 1, "abc", SETTINGS)
    assert name != study_name_for(base, SPACE, 1, "abc", replace(SETTINGS, reduction_factor=3))
    assert name != study_name_for(base, SPACE, 1, "abc", replace(SETTINGS, min_resource=2))
    # a code change starts a new study (stored trials of old code are never resumed)
    assert name != study_name_for(base, SPACE, 1, "abc", SETTINGS, code_hash="c0de")


# ----------------------------------------------------------- pruning on FZ0 (fake fits)
#: Per window: FZ0 score and denoising loss of each epoch (the loss ranks opposite to FZ0).
#: With reduction factor 3 the rungs are at epochs 1 and 3 (= max_epochs).
FAKE = {
    20: ([-1.0, -0.5, -3.0], [9.0, 9.0, 9.0]),  # trial 0: the reference
    24: ([0.0, -9.0, -9.0], [0.1, 0.1, 0.1]),  # trial 1: worse FZ0 at epoch 1: pruned
    32: ([-2.0, -1.0, -1.5], [9.0, 9.0, 9.0]),  # trial 2: best at epoch 1, worse at 3
}


def fake_fit(returns, splits, config, seed, progress, epoch_callback):
    scores, losses = FAKE[config.window]
    for epoch, (score, loss) in enumerate(zip(scores, losses, strict=True), start=1):
        epoch_callback(epoch, loss, score)
    best = int(np.argmin(scores))
    return None, {"best_val_score": scores[best], "best_epoch": best + 1}


def test_pruner_compares_running_best_fz0_not_the_loss(returns, monkeypatch, tmp_path):
    monkeypatch.setattr(tuning, "fit_ddpm", fake_fit)
    settings = replace(SETTINGS, reduction_factor=3)
    study = create_study(sqlite(tmp_path, "fake"), "fake", settings, sampler_seed=0)
    for window in FAKE:
        study.enqueue_trial({"window": window})
    objective = make_objective(
        returns, SPLITS, tiny_base(max_epochs=3), 0, {"window": [20, 24, 32]}
    )
    study.optimize(objective, n_trials=3)
    t0, t1, t2 = study.trials
    # reported: the running best FZ0 of the epochs, never the loss
    assert t0.intermediate_values == {1: -1.0, 2: -1.0, 3: -3.0}
    assert t1.intermediate_values == {1: 0.0}
    assert [t.state for t in study.trials] == [COMPLETE, PRUNED, COMPLETE]
    # t2 is worse than t0 at the last epoch, but a trial that ran every epoch completes
    assert t2.intermediate_values == {1: -2.0, 2: -2.0, 3: -2.0}
    assert (t0.value, t2.value) == (-3.0, -2.0)
    assert t0.user_attrs == {WORKER_ATTR: worker_id(), "best_epoch": 3}
    record = best_params_record(study)
    assert record["best_params"] == {"window": 20} and record["best_value"] == -3.0
    assert (record["n_complete"], record["n_pruned"], record["n_failed"]) == (2, 1, 0)
    frame = trials_frame(study)
    assert list(frame["epochs"]) == [3, 1, 3]
    assert list(frame["last_score"]) == [-3.0, 0.0, -2.0]
    assert frame["value"].isna().tolist() == [False, True, False]


def test_best_params_record_needs_a_complete_trial(tmp_path):
    study = create_study(sqlite(tmp_path, "empty"), "empty", SETTINGS, sampler_seed=0)
    with pytest.raises(RuntimeError, match="no completed trial"):
        best_params_record(study)


# ---------------------------------------------------------------- real (tiny) studies
@pytest.fixture(scope="module")
def reference(returns, tmp_path_factory):
    """The tiny sequential study: 6 configurations, successive halving with factor 2."""
    return tiny_study(returns, tmp_path_factory.mktemp("ref"), "ref")


def test_study_considers_n_trials_and_prunes(reference):
    assert finished_trials(reference) == len(reference.trials) == SETTINGS.n_trials
    states = [t.state for t in reference.trials]
    assert states[0] == COMPLETE  # the hand-set configuration, enqueued first
    assert reference.trials[0].params == {"lr": 2e-3, "window": 24, "scaling": "ewma"}
    assert states.count(COMPLETE) + states.count(PRUNED) == SETTINGS.n_trials
    assert states.count(PRUNED) >= 1
    for t in reference.trials:
        steps = sorted(t.intermediate_values)
        assert steps == list(range(1, len(steps) + 1))
        if t.state == COMPLETE:  # ran every epoch; the value is the best reported FZ0
            assert steps[-1] == 3 and t.value == min(t.intermediate_values.values())
            assert np.isfinite(t.value)
    record = best_params_record(reference)
    assert record["best_value"] == min(t.value for t in reference.trials if t.state == COMPLETE)
    assert set(record["best_params"]) == set(SPACE)


def test_sequential_study_is_deterministic(returns, reference, tmp_path):
    again = tiny_study(returns, tmp_path, "again")
    pd.testing.assert_frame_equal(trials_frame(again), trials_frame(reference))
    assert best_params_record(again) == best_params_record(reference)


def test_returns_after_select_end_cannot_change_the_study(returns, reference, tmp_path):
    """Leakage: the outer validation and test periods are never read by tuning."""
    perturbed = returns.copy()
    late = perturbed.index > SPLITS.select_end
    perturbed.loc[late] = perturbed.loc[late] * 5.0 + 0.01
    leaked = tiny_study(perturbed, tmp_path, "late")
    pd.testing.assert_frame_equal(trials_frame(leaked), trials_frame(reference))
    # and the check is sensitive: a change inside the inner validation shows up
    early = returns.copy()
    inner = (early.index >= SPLITS.val_start) & (early.index <= SPLITS.select_end)
    early.loc[inner] = early.loc[inner] * 5.0
    settings = replace(SETTINGS, n_trials=1)
    changed = tiny_study(early, tmp_path, "inner", settings)
    assert changed.trials[0].value != reference.trials[0].value


def test_resume_adds_nothing_and_add_adds_trials(returns, tmp_path):
    settings = replace(SETTINGS, n_trials=2)
    first = tiny_study(returns, tmp_path, "resume", settings)
    assert len(first.trials) == 2
    assert len(tiny_study(returns, tmp_path, "resume", settings).trials) == 2
    grown = tiny_study(returns, tmp_path, "resume", replace(settings, n_trials=1), add=True)
    assert finished_trials(grown) == 3
