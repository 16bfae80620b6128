"""Shared synthetic study of the tests of diffrisk.reporting.

The synthetic study: 2 series x 4 methods x 300 business days starting 2019-12-02 (so the
COVID-19 window falls inside). True daily returns are N(0, sigma_t^2) with sigma_t = 1%,
except 3% on days 50-109 (a crash regime). Each method's scenarios are N(0, s_t^2) with
a designed scale s_t:

- portfolio: ddpm s = sigma (the true law, clearly best); fhs s = 0.6 sigma (too narrow,
  fails Kupiec); hs s = 1% and mc_normal s = 1.2% (constant, blind to the regime);
- sp500: fhs s = sigma (best); ddpm s = 0.7 sigma; hs 1%, mc_normal 1.2%.

So the DDPM's average CVaR is deeper than HS and MC on the portfolio (mean scale 1.4%
against 1% and 1.2%) but shallower on sp500 (0.98%): the report must say the paper's
claim holds on one and not on the other. The backtest columns that need the backtest
module's own tests (Christoffersen, Z2 p-value) are designed inputs here: reports.py
only reads them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.core import paths
from diffrisk.evaluation.headline import HEADLINE_COLUMNS
from diffrisk.evaluation.tables import BACKTEST_COLUMNS
from diffrisk.forecasts.contract import (
    ScenarioSet,
    cvar_column,
    risk_frame_from_scenarios,
    var_column,
)
from diffrisk.reporting.paper_figures import (
    write_paper_figures,
)
from diffrisk.reporting.paper_tables import (
    write_paper_tables,
)

N_DAYS, N_SCEN = 300, 400


SERIES = ("portfolio", "sp500")


METHODS = ("ddpm", "hs", "mc_normal", "fhs")


ALPHAS = (0.05, 0.025, 0.01)


# Designed p-values of the tests whose computation belongs to diffrisk.backtest.
CHRIST_P = {"ddpm": 0.40, "hs": 0.004, "mc_normal": 0.02, "fhs": 0.30}


Z2_P = {"ddpm": 0.35, "hs": 0.01, "mc_normal": 0.03, "fhs": 0.0}


def _sigma() -> np.ndarray:
    sigma = np.full(N_DAYS, 0.01)
    sigma[50:110] = 0.03
    return sigma


def _scales(sigma: np.ndarray) -> dict[str, np.ndarray]:
    one = np.ones_like(sigma)
    return {
        "ddpm": np.stack([sigma, 0.7 * sigma]),
        "hs": np.stack([0.01 * one, 0.01 * one]),
        "mc_normal": np.stack([0.012 * one, 0.012 * one]),
        "fhs": np.stack([0.6 * sigma, sigma]),
    }


def _fz0(r, v, e, alpha):
    """Daily FZ0 loss (Patton, Ziegel & Chen 2019, eq. 6), return space, v, e < 0."""
    return -((r <= v) * (v - r)) / (alpha * e) + v / e + np.log(-e) - 1.0


def kupiec_p_value(x: int, n: int, alpha: float) -> float:
    """Kupiec (1995) POF likelihood ratio p-value, chi2(1); x*log(x/n) := 0 at x = 0."""
    phat = x / n
    ll0 = (n - x) * math.log(1 - alpha) + x * math.log(alpha)
    ll1 = (n - x) * math.log(1 - phat) if x < n else 0.0
    ll1 += x * math.log(phat) if x > 0 else 0.0
    return float(stats.chi2.sf(-2 * (ll0 - ll1), 1))


def _backtests(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for m, f in frames.items():
        for s in SERIES:
            g = f[f["series"] == s]
            r = g["realized"].to_numpy()
            for a in ALPHAS:
                v = g[var_column(a)].to_numpy()
                e = g[cvar_column(a)].to_numpy()
                hits = r < v
                x = int(hits.sum())
                rows.append(
                    {
                        "series": s,
                        "method": m,
                        "alpha": a,
                        "n_obs": len(r),
                        "n_exceptions": x,
                        "exception_rate": x / len(r),
                        "avg_var": v.mean(),
                        "avg_cvar": e.mean(),
                        "kupiec_lr": np.nan,
                        "kupiec_p": kupiec_p_value(x, len(r), a),
                        "christoffersen_ind_p": CHRIST_P[m],
                        "christoffersen_cc_p": CHRIST_P[m] / 2,
                        "traffic_light": "green",
                        "as_z2": 1 + np.sum(r * hits / (len(r) * a * np.abs(e))),
                        "as_z2_p": Z2_P[m],
                        "fz0_mean": _fz0(r, v, e, a).mean(),
                    }
                )
    return pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))


def _dm_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """FZ0 loss differences against FHS with a plain (iid-variance) DM statistic."""
    rows = []
    for m in METHODS:
        if m == "fhs":
            continue
        for s in SERIES:
            g, b = (frames[k][frames[k]["series"] == s] for k in (m, "fhs"))
            r = g["realized"].to_numpy()
            for a in (0.05, 0.01):
                vc, cc = var_column(a), cvar_column(a)
                d = _fz0(r, g[vc].to_numpy(), g[cc].to_numpy(), a) - _fz0(
                    r, b[vc].to_numpy(), b[cc].to_numpy(), a
                )
                stat = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
                rows.append(
                    {
                        "series": s,
                        "method": m,
                        "alpha": a,
                        "benchmark": "fhs",
                        "mean_loss_diff": d.mean(),
                        "dm_stat": stat,
                        "dm_p": 2 * stats.norm.sf(abs(stat)),
                    }
                )
    return pd.DataFrame(rows)


def _traffic_windows(frames: dict[str, pd.DataFrame], window: int = 250) -> pd.DataFrame:
    """Rolling 250-day windows per Basel zone at 1% (green <= 4, yellow 5-9, red >= 10)."""
    rows = []
    for m, f in frames.items():
        for s in SERIES:
            g = f[f["series"] == s]
            hits = (g["realized"] < g["var_01"]).to_numpy().astype(int)
            counts = np.convolve(hits, np.ones(window, dtype=int), mode="valid")
            rows.append(
                {
                    "series": s,
                    "method": m,
                    "n_green": int((counts <= 4).sum()),
                    "n_yellow": int(((counts >= 5) & (counts <= 9)).sum()),
                    "n_red": int((counts >= 10).sum()),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def study():
    rng = np.random.default_rng(20240501)
    dates = pd.bdate_range("2019-12-02", periods=N_DAYS)
    sigma = _sigma()
    realized = rng.standard_normal((len(SERIES), N_DAYS)) * sigma
    frames, sets = {}, {}
    for m, scale in _scales(sigma).items():
        z = rng.standard_normal((len(SERIES), N_DAYS, N_SCEN))
        scen = (z * scale[:, :, None]).astype(np.float32)
        frames[m] = risk_frame_from_scenarios(scen, dates, SERIES, realized)
        sets[m] = ScenarioSet(scenarios=scen, dates=dates, series=list(SERIES))
    # MC standard errors (designed values) for the DDPM only, in the columns of the
    # coverage stage's mc_error.csv, with three rows per key to exercise the averaging.
    mc = pd.DataFrame(
        [
            {
                "series": s,
                "method": "ddpm",
                "alpha": a,
                "n_scenarios": N_SCEN,
                "var_se": se,
                "cvar_se": se * 2,
                "var_se_rel": 0.01,
                "cvar_se_rel": 0.02,
            }
            for s in SERIES
            for a in (0.05, 0.01)
            for se in (1e-4, 2e-4, 6e-4)
        ]
    )
    return {
        "dates": dates,
        "realized": realized,
        "forecasts": frames,
        "scenarios": sets,
        "backtests": _backtests(frames),
        "dm": _dm_table(frames),
        "traffic": _traffic_windows(frames),
        "mc": mc,
    }


FIG1_METHODS = ("ddpm", "mc_normal", "hs")


@pytest.fixture(scope="module")
def outputs(study, tmp_path_factory):
    """Tables and figures written once into a project root shared by several tests."""
    root = tmp_path_factory.mktemp("study_root").resolve()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIFFRISK_ROOT", str(root))
        tables = write_paper_tables(study["backtests"], study["dm"], study["traffic"], study["mc"])
        figures = write_paper_figures(
            study["forecasts"], {m: study["scenarios"][m] for m in FIG1_METHODS}
        )
        yield {"root": root, "tables": tables, "figures": figures}


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFRISK_ROOT", str(tmp_path))
    assert paths.project_root() == tmp_path.resolve()
    return tmp_path.resolve()


# ---- writing tables ------------------------------------------------------------------


def markdown_rows(text: str) -> list[list[str]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


# ---- a designed headline table ---------------------------------------------------------

GOOD = {
    "n_obs": 1000,
    "n_exceptions": 10,
    "expected_exceptions": 10.0,
    "kupiec_p": 0.5,
    "christoffersen_cc_p": 0.5,
    "as_z2_p": 0.5,
    "tl_red": 0,
    "pit_ks_p": 0.5,
    "fz0_mean": -3.3,
    "fz0_diff": -0.01,
    "dm_p": 0.4,
    "crash_days": 61,
    "crash_exceptions": 2.0,
}


def designed_headline(changes: dict | None = None) -> pd.DataFrame:
    """Two series x two alphas x (ddpm_ens primary, fhs benchmark); ddpm_ens meets the goal."""
    rows = []
    for s in ("portfolio", "sp500"):
        for a in (0.05, 0.01):
            for m in ("ddpm_ens", "fhs"):
                row = {**GOOD, "series": s, "alpha": a, "method": m, "primary": m == "ddpm_ens"}
                if m == "fhs":
                    row.update(fz0_diff=math.nan, dm_p=math.nan, kupiec_p=0.01)
                row.update((changes or {}).get((s, a, m), {}))
                rows.append(row)
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))
