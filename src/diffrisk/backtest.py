"""The one-day backtest API of DESIGN.md §4, re-exported from :mod:`diffrisk.evaluation`.

``diffrisk.backtest.kupiec_pof`` and friends keep working; the code lives in
:mod:`diffrisk.evaluation.coverage`, ``traffic_light``, ``es_tests``, ``comparison`` and
``tables``, and the FZ0 / pinball losses in :mod:`diffrisk.risk.scoring`.
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
