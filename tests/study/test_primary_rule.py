"""The primary-method rule: rehearsal scores and the noise margin."""

import numpy as np
import pandas as pd
import pytest

from diffrisk.study.primary_rule import daily_fz0, primary_choice, score_cells


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
