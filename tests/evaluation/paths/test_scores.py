"""Tests of diffrisk.evaluation.paths.scores: energy and variogram scores, DM comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scoringrules as sr

from diffrisk.evaluation.comparison import diebold_mariano
from diffrisk.evaluation.paths.scores import (
    date_scores,
    energy_score,
    path_vectors,
    realised_paths,
    score_comparison,
    variogram_score,
    window_overlap,
)


def test_energy_score_closed_forms_and_scoringrules():
    rng = np.random.default_rng(0)
    y = rng.normal(size=6)
    x = rng.normal(size=6)
    # a point mass: ES = ||x − y||
    assert energy_score(x[None], y) == pytest.approx(np.linalg.norm(x - y))
    assert energy_score(np.repeat(x[None], 5, axis=0), y) == pytest.approx(np.linalg.norm(x - y))
    # one dimension: ES = CRPS of the ensemble, E|X − y| − ½ E|X − X'|
    ens = rng.normal(size=(50, 1))
    crps = np.mean(np.abs(ens - 0.3)) - 0.5 * np.mean(np.abs(ens - ens.T))
    assert energy_score(ens, [0.3]) == pytest.approx(crps)
    # the scoringrules 0.10 ensemble estimator
    ens = rng.normal(size=(40, 12))
    assert energy_score(ens, y.repeat(2)) == pytest.approx(
        float(sr.es_ensemble(y.repeat(2), ens, backend="numpy"))
    )


def test_variogram_score_closed_forms_and_scoringrules():
    rng = np.random.default_rng(1)
    y = rng.normal(size=7)
    # identical members equal to the observation: VS = 0
    assert variogram_score(np.repeat(y[None], 4, axis=0), y) == pytest.approx(0.0, abs=1e-15)
    # two dimensions, one member: (|x1 − x2|^p − |y1 − y2|^p)²
    assert variogram_score([[0.0, 4.0]], [1.0, 2.0], p=0.5) == pytest.approx((2.0 - 1.0) ** 2)
    # half of scoringrules' symmetric sum over all (i, j)
    ens = rng.normal(size=(30, 7))
    for p in (0.5, 1.0):
        assert variogram_score(ens, y, p) == pytest.approx(
            0.5 * float(sr.vs_ensemble(y, ens, p=p, backend="numpy"))
        )
    with pytest.raises(ValueError, match="p must be > 0"):
        variogram_score(ens, y, p=0.0)
    with pytest.raises(ValueError, match="observation must have shape"):
        variogram_score(ens, y[:3])


def test_scores_are_proper_in_the_mean():
    # the ensemble of the true law scores better on average than a too-narrow one
    # and than one with the wrong dependence (the VS sees the correlation)
    rng = np.random.default_rng(2)
    cov = np.full((4, 4), 0.8) + 0.2 * np.eye(4)
    chol = np.linalg.cholesky(cov)
    obs = rng.standard_normal((300, 4)) @ chol.T
    true = [rng.standard_normal((200, 4)) @ chol.T for _ in obs]
    narrow = [0.3 * e for e in true]
    indep = [rng.standard_normal((200, 4)) for _ in obs]
    es = {
        k: np.mean([energy_score(e, y) for e, y in zip(v, obs, strict=True)])
        for k, v in (("true", true), ("narrow", narrow))
    }
    vs = {
        k: np.mean([variogram_score(e, y) for e, y in zip(v, obs, strict=True)])
        for k, v in (("true", true), ("indep", indep))
    }
    assert es["true"] < es["narrow"]
    assert vs["true"] < vs["indep"]


def test_path_vectors_are_day_major():
    paths = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    np.testing.assert_array_equal(path_vectors(paths)[0], [0, 1, 2, 3, 4, 5])


def _returns(n_days: int = 60, n_assets: int = 2) -> pd.DataFrame:
    idx = pd.bdate_range("2021-01-04", periods=n_days)
    values = np.random.default_rng(3).normal(0, 0.01, (n_days, n_assets))
    return pd.DataFrame(values, index=idx, columns=["A", "B"][:n_assets])


def test_realised_paths_start_on_the_conditioning_date_and_drop_incomplete_ones():
    returns = _returns()
    dates = [str(d.date()) for d in returns.index[::20]] + ["2021-01-02"]  # a weekend
    kept, paths = realised_paths(returns, dates, 5)
    assert kept == dates  # all complete; the weekend maps to the next business day
    np.testing.assert_array_equal(paths[1], returns.iloc[20:25].to_numpy())
    np.testing.assert_array_equal(paths[3], returns.iloc[0:5].to_numpy())
    kept, paths = realised_paths(returns, [str(returns.index[58].date())], 5)
    assert kept == [] and paths.shape == (0, 5, 2)


def _set(paths: np.ndarray, dates: list[str], per: int) -> tuple[np.ndarray, dict]:
    return paths, {"generation": {"as_of": dates, "n_paths_per_date": per}}


def test_date_scores_and_the_dm_comparison_prefer_the_oracle():
    # "oracle" puts its members around the realised path, "wide" is far too dispersed
    returns = _returns(400)
    h, per = 5, 30
    dates = [str(d.date()) for d in returns.index[:-h:h]]
    _, realised = realised_paths(returns, dates, h)
    rng = np.random.default_rng(4)
    oracle = np.concatenate([r + rng.normal(0, 0.01, (per, h, 2)) for r in realised])
    wide = rng.normal(0, 0.05, oracle.shape)
    scores = date_scores(
        {"diffusion": _set(oracle, dates, per), "wide": _set(wide, dates, per)}, returns
    )
    assert len(scores) == 2 * len(dates)
    first = scores[(scores.generator == "diffusion") & (scores.date == dates[0])].iloc[0]
    members = path_vectors(oracle[:per])
    y = realised[0].reshape(-1)
    assert first["energy_score"] == pytest.approx(energy_score(members, y))
    assert first["variogram_score"] == pytest.approx(variogram_score(members, y))
    table = score_comparison(scores).set_index(["score", "generator"])
    for score in ("energy_score", "variogram_score"):
        assert table.loc[(score, "diffusion"), "rank"] == 1
        row = table.loc[(score, "wide")]
        assert row["baseline_minus"] < 0 and row["dm_pvalue"] < 0.01
        assert np.isnan(table.loc[(score, "diffusion"), "dm_pvalue"])


def test_window_overlap_counts_the_later_dates_inside_a_path():
    days = pd.bdate_range("2021-01-04", periods=60)
    every = [str(d.date()) for d in days[::4]]
    assert window_overlap(every, days, 4) == 0  # the pipeline's spacing: horizon apart
    assert window_overlap(every, days, 5) == 1
    assert window_overlap(every, days, 20) == 4
    irregular = [str(days[i].date()) for i in (0, 1, 2, 30, 50)]
    assert window_overlap(irregular, days, 3) == 2  # day 0's path holds days 1 and 2
    assert window_overlap(irregular[::-1], days, 3) == 2  # order does not matter
    assert window_overlap(irregular[:1], days, 20) == 0
    # a date off the calendar (a holiday) starts its path on the next row
    assert window_overlap(["2021-01-02", "2021-01-04"], days, 2) == 1


def test_score_comparison_tests_overlapping_paths_as_h_step_forecasts():
    returns = _returns(400)
    h, per = 5, 20
    dates = [str(d.date()) for d in returns.index[:-h:2]]  # every 2nd day: paths overlap
    _, realised = realised_paths(returns, dates, h)
    rng = np.random.default_rng(5)
    near = np.concatenate([r + rng.normal(0, 0.012, (per, h, 2)) for r in realised])
    far = np.concatenate([r + rng.normal(0, 0.014, (per, h, 2)) for r in realised])
    scores = date_scores({"diffusion": _set(near, dates, per), "b": _set(far, dates, per)}, returns)
    overlap = window_overlap(dates, returns.index, h)
    assert overlap == 2
    table = score_comparison(scores, overlap=overlap).set_index(["score", "generator"])
    wide = scores.pivot(index="date", columns="generator", values="energy_score")
    expected = diebold_mariano(wide["diffusion"], wide["b"], hln=True, horizon=3)
    assert table.loc[("energy_score", "b"), "dm_pvalue"] == expected.pvalue
    assert set(table["dm_horizon"]) == {3}
    one_step = score_comparison(scores).set_index(["score", "generator"])
    assert one_step.loc[("energy_score", "b"), "dm_pvalue"] == (
        diebold_mariano(wide["diffusion"], wide["b"], hln=True).pvalue
    )
    assert one_step.loc[("energy_score", "b"), "dm_pvalue"] != expected.pvalue
    assert set(one_step["dm_horizon"]) == {1}
    with pytest.raises(ValueError, match="overlap must be an integer >= 0"):
        score_comparison(scores, overlap=-1)


def test_date_scores_rejects_mismatched_sets():
    returns = _returns(100)
    paths = np.zeros((20, 5, 2))
    with pytest.raises(ValueError, match="different conditioning dates"):
        date_scores(
            {
                "a": _set(paths, ["2021-01-04", "2021-02-01"], 10),
                "b": _set(paths, ["2021-01-04", "2021-02-02"], 10),
            },
            returns,
        )
    with pytest.raises(ValueError, match="expected 15 per date"):
        date_scores({"a": _set(paths, ["2021-01-04", "2021-02-01"], 15)}, returns)
    with pytest.raises(ValueError, match="sets is empty"):
        date_scores({}, returns)
