"""Tests of diffrisk.evaluation.sampler_choice: the replacement rule's figures and checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.evaluation.sampler_choice import (
    FIGURES,
    backtest_verdicts,
    figures_within_noise,
    replicate_figures,
    scenario_figures,
    verdicts_equal,
)
from diffrisk.forecasts.contract import ScenarioSet

DAYS, N, ALPHA = 60, 2000, 0.05


def _normal_set(scale: float, seed: int, n: int = N) -> tuple[ScenarioSet, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=DAYS)
    x = (scale * rng.standard_normal((1, DAYS, n))).astype(np.float32)
    frame = pd.DataFrame(
        {"date": dates, "series": "a", "realized": rng.standard_normal(DAYS) * scale}
    )
    return ScenarioSet(x, dates, ["a"], design="iid"), frame


def test_figures_of_normal_scenarios_match_closed_forms_and_their_errors():
    # N(0, s^2) scenarios: VaR = s z_a, ES = -s phi(z_a) / a; the bootstrap error of the
    # mean VaR over D days is the quantile's asymptotic sd sqrt(a(1-a)) / (f(q) sqrt(N))
    # divided by sqrt(D).
    scale = 0.02
    scen, frame = _normal_set(scale, 0)
    out = scenario_figures(scen, frame, ["a"], alphas=[ALPHA], n_boot=100, seed=1)
    assert set(out) == {("a", ALPHA, f) for f in FIGURES}
    z = stats.norm.ppf(ALPHA)
    var, var_se = out[("a", ALPHA, "var")]
    es, es_se = out[("a", ALPHA, "es")]
    assert var == pytest.approx(scale * z, rel=0.01)
    assert es == pytest.approx(-scale * stats.norm.pdf(z) / ALPHA, rel=0.01)
    q_sd = scale * math.sqrt(ALPHA * (1 - ALPHA)) / (stats.norm.pdf(z) * math.sqrt(N))
    assert var_se == pytest.approx(q_sd / math.sqrt(DAYS), rel=0.25)
    assert 0 < out[("a", ALPHA, "fz0")][1] and es_se > 0
    # four times the scenarios: half the error
    scen4, _ = _normal_set(scale, 0, n=4 * N)
    se4 = scenario_figures(scen4, frame, ["a"], alphas=[ALPHA], n_boot=100, seed=1)
    assert se4[("a", ALPHA, "var")][1] == pytest.approx(var_se / 2, rel=0.3)


def test_a_non_negative_es_scores_infinite_fz0_and_bad_inputs_are_named():
    scen, frame = _normal_set(0.02, 0)
    shifted = ScenarioSet(scen.scenarios + 1.0, scen.dates, scen.series, design="iid")
    out = scenario_figures(shifted, frame, ["a"], alphas=[ALPHA], n_boot=2)
    assert out[("a", ALPHA, "fz0")][0] == math.inf
    with pytest.raises(ValueError, match="n_boot must be 0 or >= 2"):
        scenario_figures(scen, frame, ["a"], n_boot=1)
    with pytest.raises(ValueError, match="series 'a': no realised return"):
        scenario_figures(scen, frame.iloc[:-1], ["a"], n_boot=2)


def test_a_second_seed_is_within_noise_and_a_wider_sampler_is_not():
    scen_a, frame = _normal_set(0.02, 0)
    scen_b, _ = _normal_set(0.02, 7)
    scen_w, _ = _normal_set(0.021, 7)  # 5 % wider
    figs = {
        k: scenario_figures(s, frame, ["a"], alphas=[ALPHA], n_boot=50, seed=3)
        for k, s in {"a": scen_a, "b": scen_b, "w": scen_w}.items()
    }
    table, ok = figures_within_noise(figs["b"], figs["a"], figs["b"])
    assert ok and table["within"].all()
    var_row = table.set_index("figure").loc["var"]
    assert var_row["bound"] == pytest.approx(
        2 * np.hypot(figs["a"][("a", ALPHA, "var")][1], figs["b"][("a", ALPHA, "var")][1])
    )
    assert var_row["teacher_b_minus_teacher"] == pytest.approx(var_row["diff"])
    table, ok = figures_within_noise(figs["w"], figs["a"])
    assert not ok
    assert not table.set_index("figure").loc["var", "within"]
    assert "teacher_b_minus_teacher" not in table


def _backtests(method: str, kupiec_p: float, zone: str, n: int) -> dict:
    return {"method": method, "series": "a", "alpha": 0.05, "n_exceptions": n,
            "kupiec_p": kupiec_p, "christoffersen_cc_p": 0.5, "as_z2_p": 0.3,
            "traffic_light": zone}  # fmt: skip


def test_verdicts_reject_below_the_level_and_compare_cell_by_cell():
    table = pd.DataFrame([
        _backtests("teacher", 0.04, "yellow", 69),
        _backtests("same", 0.03, "yellow", 70),
        _backtests("zone", 0.04, "red", 71),
        _backtests("kupiec", 0.06, "yellow", 66),
    ])  # fmt: skip
    verd = backtest_verdicts(table, level=0.05)
    assert verd[("teacher", "a", 0.05)]["kupiec"] and not verd[("kupiec", "a", 0.05)]["kupiec"]
    assert verd[("teacher", "a", 0.05)]["p"] == (0.04, 0.5, 0.3)
    frame, ok = verdicts_equal(verd, "teacher", "same", ["a"], alphas=[0.05])
    assert ok and frame.loc[0, "candidate_n_exceptions"] == 70  # counts may differ
    for other in ("zone", "kupiec"):
        assert not verdicts_equal(verd, "teacher", other, ["a"], alphas=[0.05])[1]
    assert not backtest_verdicts(table, level=0.01)[("teacher", "a", 0.05)]["kupiec"]


def _stratified_set(scale: float, seed: int, frame: pd.DataFrame, n: int = 500):
    """N(0, s^2) scenarios with one draw per probability stratum of width 1/n, every day."""
    rng = np.random.default_rng(seed)
    u = (np.arange(n) + rng.random((DAYS, n))) / n
    x = (scale * stats.norm.ppf(u))[None].astype(np.float32)
    return frame, ScenarioSet(x, pd.DatetimeIndex(frame["date"]), ["a"], design="stratified")


def test_seed_replicates_measure_a_stratified_samplers_error_and_the_bootstrap_does_not():
    # one draw per stratum: a new seed moves the mean VaR far less than i.i.d. resampling
    # says, so the bootstrap's bound would let a systematic shift through
    _, frame = _normal_set(0.02, 0)
    runs = [_stratified_set(0.02, s, frame) for s in range(8)]
    rep = replicate_figures(runs, ["a"], alphas=[ALPHA])
    var, var_se = rep[("a", ALPHA, "var")]
    assert var == pytest.approx(0.02 * stats.norm.ppf(ALPHA), rel=0.01)
    boot_se = scenario_figures(runs[0][1], frame, ["a"], alphas=[ALPHA], n_boot=50,
                               seed=3)[("a", ALPHA, "var")][1]  # fmt: skip
    assert 0 < var_se < boot_se / 20
    # the replicate error is the spread of the figure over fresh seeds
    spread = np.std([replicate_figures([r, _stratified_set(0.02, 100 + s, frame)], ["a"],
                                       alphas=[ALPHA])[("a", ALPHA, "var")][0]
                     for s, r in enumerate(runs)], ddof=1)  # fmt: skip
    assert var_se * np.sqrt(8) == pytest.approx(spread * np.sqrt(2), rel=0.6)
    # a sampler 0.5 % narrower: inside the bootstrap's bound, outside the replicates'
    narrow = [_stratified_set(0.0199, 50 + s, frame) for s in range(8)]
    rep_narrow = replicate_figures(narrow, ["a"], alphas=[ALPHA])
    shift = abs(rep_narrow[("a", ALPHA, "var")][0] - var)
    assert shift < 2 * np.hypot(boot_se, boot_se)
    table, ok = figures_within_noise(rep_narrow, rep)
    assert not ok and not table.set_index("figure").loc["var", "within"]
    with pytest.raises(ValueError, match="need >= 2 seeds"):
        replicate_figures(runs[:1], ["a"])
