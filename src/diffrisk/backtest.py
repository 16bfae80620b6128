"""Backtests of VaR and ES forecasts (DESIGN.md §4), re-exported from where they live.

The code is in :mod:`diffrisk.evaluation` (``coverage``, ``traffic_light``, ``es_tests``,
``comparison``, ``tables``) and the losses in :mod:`diffrisk.risk.scoring`; this module
keeps the public names ``diffrisk.backtest.kupiec_pof`` etc. working.

Sign convention
---------------
Everything is in *return space*: returns are log returns as fractions (0.01 = 1 %),
VaR and ES (CVaR) forecasts are returns, so negative numbers for a loss, with
``ES <= VaR``. ``alpha`` is the tail probability (0.01 for 99 % VaR). An exception
(a "hit") on day t is ``r_t < VaR_t`` (strict).

Contents
--------
VaR coverage
    :func:`exceptions`, :func:`kupiec_pof`, :func:`christoffersen`,
    :func:`traffic_light`, :func:`traffic_light_thresholds`,
    :func:`traffic_light_windows`.
ES tests
    :func:`acerbi_szekely_z1`, :func:`acerbi_szekely_z2` (Monte-Carlo p-values under the
    method's own scenarios, or under a parametric null matched to the forecasts).
Scoring
    :func:`fz0_loss` (joint VaR/ES), :func:`pinball_loss` (VaR), :func:`diebold_mariano`.
Tables (the ``coverage`` stage)
    :func:`backtest_table`, :func:`traffic_light_table`, :func:`diebold_mariano_table`,
    :func:`constituent_coverage_table`.

Every test returns a small frozen dataclass with ``statistic`` and ``pvalue`` fields plus
what the test reports. Likelihoods are evaluated in log space with
:func:`scipy.special.xlogy` (``0 log 0 = 0``), so every statistic is finite and exact for
any sample size, including zero exceptions and all exceptions.
"""

from diffrisk.evaluation.comparison import DieboldMarianoResult, diebold_mariano, newey_west_lag
from diffrisk.evaluation.coverage import (
    ChristoffersenResult,
    KupiecResult,
    christoffersen,
    exceptions,
    kupiec_pof,
)
from diffrisk.evaluation.es_tests import AcerbiSzekelyResult, acerbi_szekely_z1, acerbi_szekely_z2
from diffrisk.evaluation.tables import (
    BACKTEST_COLUMNS,
    backtest_table,
    constituent_coverage_table,
    diebold_mariano_table,
    traffic_light_table,
)
from diffrisk.evaluation.traffic_light import (
    BASEL_WINDOW,
    GREEN_LIMIT,
    RED_LIMIT,
    TrafficLightResult,
    TrafficLightWindows,
    traffic_light,
    traffic_light_thresholds,
    traffic_light_windows,
)
from diffrisk.risk.scoring import fz0_loss, pinball_loss

__all__ = [
    "BASEL_WINDOW",
    "GREEN_LIMIT",
    "RED_LIMIT",
    "BACKTEST_COLUMNS",
    "exceptions",
    "KupiecResult",
    "kupiec_pof",
    "ChristoffersenResult",
    "christoffersen",
    "TrafficLightResult",
    "traffic_light",
    "traffic_light_thresholds",
    "TrafficLightWindows",
    "traffic_light_windows",
    "AcerbiSzekelyResult",
    "acerbi_szekely_z1",
    "acerbi_szekely_z2",
    "fz0_loss",
    "pinball_loss",
    "DieboldMarianoResult",
    "newey_west_lag",
    "diebold_mariano",
    "backtest_table",
    "traffic_light_table",
    "diebold_mariano_table",
    "constituent_coverage_table",
]
