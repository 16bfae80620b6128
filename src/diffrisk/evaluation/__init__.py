"""Backtests of one-day forecasts and the validation suite of scenario paths."""

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
    headline_metrics,
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

__all__ = [
    "AcerbiSzekelyResult",
    "BACKTEST_COLUMNS",
    "BASEL_WINDOW",
    "ChristoffersenResult",
    "DieboldMarianoResult",
    "GREEN_LIMIT",
    "KupiecResult",
    "RED_LIMIT",
    "TrafficLightResult",
    "TrafficLightWindows",
    "acerbi_szekely_z1",
    "acerbi_szekely_z2",
    "backtest_table",
    "christoffersen",
    "constituent_coverage_table",
    "diebold_mariano",
    "diebold_mariano_table",
    "exceptions",
    "headline_metrics",
    "kupiec_pof",
    "newey_west_lag",
    "traffic_light",
    "traffic_light_table",
    "traffic_light_thresholds",
    "traffic_light_windows",
]
