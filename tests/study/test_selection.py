"""Nested validation: the decisions, the rule, and that the test period is never read."""

import numpy as np
import pandas as pd
import pytest

from diffrisk.baselines.registry import run_baselines
from diffrisk.core.compute import SCHEDULER_ENV
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.study.primary_rule import score_cells
from diffrisk.study.selection import (
    PRIMARY_CANDIDATES,
    SelectionSettings,
    nested_validation,
    rehearsal_period,
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


def test_two_workers_on_one_cluster_take_the_same_decisions(
    selection, panel, tmp_path, dask_cluster, monkeypatch
):
    """Every fit and forecast of the rehearsal on a shared 2-worker cluster: same bytes."""
    returns, splits = panel
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster)  # the rehearsal's calls go to the cluster
    decisions, scores = nested_validation(
        returns, splits, CONFIG, settings(workers=2), seed=0, workdir=tmp_path
    )
    assert decisions == selection[0]
    pd.testing.assert_frame_equal(scores, selection[1], check_exact=True)


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


def test_bad_margin():
    with pytest.raises(ValueError, match="select.margin_se must be a number >= 0"):
        settings(margin_se=-1.0)


def _peer(returns, splits):
    """Historical-simulation forecasts of the rehearsal's scored days (data <= t - 1)."""
    data, dates = rehearsal_period(returns, splits)
    (frame, _) = run_baselines(data, dates, ["hs"], {"hs": {"window": 250}})["hs"]
    return frame


def test_combinations_join_the_primary_chain_after_the_ddpm_candidates(panel, tmp_path):
    returns, splits = panel
    peer = _peer(returns, splits)
    # weight 0: the combination IS the peer, so its rehearsal score is the peer's own
    small = settings(
        members=1, n_steps_grid=(5,), combinations=(("ddpm", "hs"),), combination_weight=0.0
    )
    decisions, scores = nested_validation(
        returns, splits, CONFIG, small, seed=0, workdir=tmp_path, peers={"hs": peer}
    )
    chain = decisions["primary_margin"]
    assert list(chain) == [*PRIMARY_CANDIDATES[1:], "ddpm_mix_hs"]
    own = np.mean([c["fz0_mean"] for c in score_cells(peer, ("s0", "s1"))])
    assert decisions["scores"]["primary"]["ddpm_mix_hs"] == pytest.approx(own, rel=1e-12)
    rec = chain["ddpm_mix_hs"]
    score = decisions["scores"]["primary"]
    assert rec["gain"] == pytest.approx(score[rec["against"]] - own, abs=1e-9)
    assert rec["switch"] == (rec["gain"] > decisions["margin_se"] * rec["se"])
    rows = scores[scores["candidate"] == "ddpm_mix_hs"]
    assert len(rows) == 4 and set(rows["n_obs"]) == {1199 - 1049}
    assert decisions["combination_weight"] == 0.0


def test_the_peers_of_the_rehearsal_never_see_the_test_period(panel):
    returns, splits = panel
    shocked = returns.copy()
    after = shocked.index > splits.val_end
    shocked.loc[after] = shocked.loc[after] * 5.0 - 0.02
    pd.testing.assert_frame_equal(_peer(returns, splits), _peer(shocked, splits))
    data, dates = rehearsal_period(returns, splits)
    assert data.index.max() == splits.val_end and dates.min() > splits.select_end


def test_bad_combinations_are_named(panel, tmp_path):
    with pytest.raises(ValueError, match=r"calibrate.combine: .* first members \['fhs'\]"):
        settings(combinations=(("fhs", "gas"),))
    with pytest.raises(ValueError, match="calibrate.fallback_weight must be in"):
        settings(combinations=(("ddpm", "fhs"),), combination_weight=1.5)
    returns, splits = panel
    small = settings(members=1, n_steps_grid=(5,), combinations=(("ddpm", "fhs"),))
    with pytest.raises(ValueError, match="no rehearsal forecasts of 'fhs'"):
        nested_validation(returns, splits, CONFIG, small, seed=0, workdir=tmp_path, peers={})
