"""Nested validation: the decisions, the rule, and that the test period is never read."""

import numpy as np
import pandas as pd
import pytest

from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.study.selection import (
    PRIMARY_CANDIDATES,
    SelectionSettings,
    nested_validation,
    score_cells,
)
from tests.ddpm.test_fit import simulate_garch_t

CONFIG = DDPMConfig.smoke(samples_per_epoch=1024, max_epochs=1, order=1)


def settings(**kw):
    base = dict(
        members=2,
        workers=1,
        n_steps_grid=(5, 3),
        order_grid=(2,),
        frequency="quarter",
        wf_epochs=1,
        n_scenarios=64,
        sampling={"sampler": "ddim", "eta": 0.0, "spacing": "logsnr", "noise": "stratified"},
        headline=("s0", "s1"),
    )
    base.update(kw)
    return SelectionSettings(**base)


@pytest.fixture(scope="module")
def panel():
    returns, _ = simulate_garch_t(1400, 2, seed=21)
    idx = returns.index
    splits = Splits(
        train_end=idx[899],
        val_start=idx[900],
        val_end=idx[1199],
        test_start=idx[1200],
        select_end=idx[1049],
    )
    return returns, splits


@pytest.fixture(scope="module")
def selection(panel, tmp_path_factory):
    returns, splits = panel
    return nested_validation(
        returns, splits, CONFIG, settings(), seed=0, workdir=tmp_path_factory.mktemp("r")
    )


def test_decisions_follow_the_stated_rule(selection):
    decisions, scores = selection
    assert decisions["primary_method"] in PRIMARY_CANDIDATES
    for decision, key in (("final_refit", None), ("primary", "primary_method")):
        sub = scores[scores["decision"] == decision]
        means = sub.groupby("candidate", sort=False)["fz0_mean"].mean()
        assert np.allclose(sorted(means), sorted(decisions["scores"][decision].values()))
        winner = means.idxmin()
        if key is None:
            assert decisions["final_refit"] == (winner == "true")
        else:
            assert decisions[key] == winner
    sampler = decisions["scores"]["sampler"]
    assert min(sampler, key=sampler.get) == (
        f"n_steps={decisions['n_steps']},order={decisions['order']}"
    )
    # every candidate is scored on both headline series at 5 % and 1 %
    assert set(scores.groupby(["decision", "candidate"]).size()) == {4}


def test_scores_are_on_the_outer_validation_period(selection, panel):
    _, splits = panel
    _, scores = selection
    outer = 1199 - 1049
    assert set(scores["n_obs"]) == {outer}


def test_the_test_period_is_never_read(panel, tmp_path):
    """Perturbing every return after val_end leaves every decision and score unchanged."""
    returns, splits = panel
    shocked = returns.copy()
    after = shocked.index > splits.val_end
    shocked.loc[after] = shocked.loc[after] * 5.0 - 0.02
    small = settings(members=1, n_steps_grid=(5,))
    d1, s1 = nested_validation(returns, splits, CONFIG, small, seed=0, workdir=tmp_path / "a")
    d2, s2 = nested_validation(shocked, splits, CONFIG, small, seed=0, workdir=tmp_path / "b")
    assert d1 == d2
    pd.testing.assert_frame_equal(s1, s2)


def test_score_cells_counts_exceptions():
    frame = pd.DataFrame(
        {
            "series": ["a"] * 4,
            "realized": [-0.05, 0.0, -0.01, 0.01],
            "var_05": [-0.02] * 4,
            "cvar_05": [-0.03] * 4,
            "var_01": [-0.04] * 4,
            "cvar_01": [-0.05] * 4,
        }
    )
    cells = score_cells(frame, ["a"])
    assert [c["n_exceptions"] for c in cells] == [1, 1]
    with pytest.raises(ValueError, match="no rows for headline series 'b'"):
        score_cells(frame, ["b"])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("members", 0, "select.members must be >= 1"),
        ("order_grid", (3,), "select.order_grid must hold 1 or 2"),
        ("n_steps_grid", (), "select.n_steps_grid must not be empty"),
    ],
)
def test_bad_settings(field, value, message):
    with pytest.raises(ValueError, match=message):
        settings(**{field: value})


def test_rehearsal_needs_select_end(panel):
    returns, splits = panel
    from dataclasses import replace

    with pytest.raises(Exception, match="select_end"):
        replace(splits, select_end=None).rehearsal()
