"""Nested validation: the decisions, the rule, and that the test period is never read."""

import numpy as np
import pandas as pd
import pytest

from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.study.selection import (
    PRIMARY_CANDIDATES,
    SelectionSettings,
    daily_fz0,
    nested_validation,
    primary_choice,
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
    for decision in ("final_refit", "primary"):
        sub = scores[scores["decision"] == decision]
        means = sub.groupby("candidate", sort=False)["fz0_mean"].mean()
        assert np.allclose(sorted(means), sorted(decisions["scores"][decision].values()))
        if decision == "final_refit":
            assert decisions["final_refit"] == (means.idxmin() == "true")
    # primary: the noise-margin chain, each gain the difference of the rehearsal scores
    primary, chain = "ddpm", decisions["primary_margin"]
    assert list(chain) == list(PRIMARY_CANDIDATES[1:])
    for cand, rec in chain.items():
        assert rec["against"] == primary
        score = decisions["scores"]["primary"]
        assert rec["gain"] == pytest.approx(score[primary] - score[cand], abs=1e-9)
        assert rec["switch"] == (rec["gain"] > decisions["margin_se"] * rec["se"])
        primary = cand if rec["switch"] else primary
    assert decisions["primary_method"] == primary
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


def _losses(gain: float, n: int = 500, seed: int = 3) -> dict[str, pd.Series]:
    """AR(1) daily losses of a simple method; a candidate = simple - gain + own noise."""
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(n)
    base = np.empty(n)
    base[0] = eps[0]
    for t in range(1, n):
        base[t] = 0.5 * base[t - 1] + eps[t]
    days = pd.bdate_range("2017-01-02", periods=n)
    noise = rng.standard_normal(n)
    noise -= noise.mean()  # the realised mean gain is exactly ``gain``
    return {
        "simple": pd.Series(base - 3.0, index=days),
        "complex": pd.Series(base - 3.0 - gain + noise, index=days),
    }


def test_gain_within_its_standard_error_keeps_the_simpler_method():
    from diffrisk.evaluation.comparison import diebold_mariano

    d = -_losses(0.0)["complex"] + _losses(0.0)["simple"]
    res = diebold_mariano(d.to_numpy(), np.zeros(d.size))
    se = np.sqrt(res.long_run_variance / res.n_obs)  # HAC se of the mean daily difference
    assert 0.02 < se < 0.1
    choice, rec = primary_choice(_losses(0.5 * se), ["simple", "complex"])
    assert choice == "simple" and rec["complex"]["switch"] is False
    assert rec["complex"]["gain"] == pytest.approx(0.5 * se)
    assert rec["complex"]["se"] == pytest.approx(se)
    choice, rec = primary_choice(_losses(2.0 * se), ["simple", "complex"])
    assert choice == "complex" and rec["complex"]["switch"] is True
    # the margin is a parameter: 3 se keeps the simpler one at a 2-se gain; 0 takes any gain
    assert primary_choice(_losses(2.0 * se), ["simple", "complex"], margin_se=3.0)[0] == "simple"
    assert primary_choice(_losses(0.5 * se), ["simple", "complex"], margin_se=0.0)[0] == "complex"


def test_an_infinite_loss_never_wins():
    losses = _losses(1.0)
    losses["complex"].iloc[3] = np.inf
    assert primary_choice(losses, ["simple", "complex"])[0] == "simple"
    losses = _losses(-1.0)
    losses["simple"].iloc[3] = np.inf
    assert primary_choice(losses, ["simple", "complex"])[0] == "complex"


def test_daily_fz0_averages_to_the_rehearsal_score():
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2017-01-02", periods=50)
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "series": name,
                    "date": days,
                    "realized": rng.normal(0, 0.01, 50),
                    "var_05": -0.016,
                    "cvar_05": -0.021,
                    "var_01": -0.023,
                    "cvar_01": -0.027,
                }
            )
            for name in ("a", "b")
        ]
    )
    daily = daily_fz0(frame, ["a", "b"])
    cells = score_cells(frame, ["a", "b"])
    assert daily.mean() == pytest.approx(np.mean([c["fz0_mean"] for c in cells]))
    frame.loc[3, "cvar_01"] = 0.001  # ES >= 0 on one day of each series: that day is +inf
    assert np.isinf(daily_fz0(frame, ["a", "b"]).iloc[3])


def test_bad_margin():
    with pytest.raises(ValueError, match="select.margin_se must be a number >= 0"):
        settings(margin_se=-1.0)
