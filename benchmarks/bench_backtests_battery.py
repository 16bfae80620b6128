"""Time the backtest battery of the ``coverage`` stage on a synthetic data set.

22 series x 5 methods x 1006 forecast days (the size of the 2019-2022 test period), every
method with its own predictive scenarios (N per day below), three tail probabilities and
n_sim = 1000 Monte-Carlo draws for the Acerbi-Szekely Z2 p-values.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_backtests_battery.py``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from diffrisk.evaluation.tables import (
    backtest_table,
    constituent_coverage_table,
    diebold_mariano_table,
    traffic_light_table,
)
from diffrisk.forecasts.contract import ScenarioSet, risk_frame_from_scenarios

#: Scenarios per day and a volatility mis-scaling per method (1.0 = well specified).
METHODS = {
    "ddpm": (1000, 1.0),
    "hs": (500, 0.9),
    "mc_normal": (1000, 0.8),
    "garch_t": (1000, 1.0),
    "fhs": (1000, 1.05),
}


def synthetic_inputs(n_series: int, n_days: int, seed: int):
    """Forecast tables and scenario sets of 5 methods on Student-t returns with clustering."""
    rng = np.random.default_rng(seed)
    series = ["portfolio", "sp500"] + [f"S{i:02d}" for i in range(n_series - 2)]
    dates = pd.bdate_range("2019-01-02", periods=n_days)
    vol = 0.01 * np.exp(np.cumsum(rng.normal(0, 0.05, (n_series, n_days)), axis=1) * 0.3)
    realized = vol * rng.standard_t(5, (n_series, n_days)) / np.sqrt(5 / 3)
    forecasts, scenarios = {}, {}
    for method, (n_scen, scale) in METHODS.items():
        draws = rng.standard_normal((n_series, n_days, n_scen), dtype=np.float32)
        scen = (draws * (scale * vol)[..., None]).astype(np.float32)
        forecasts[method] = risk_frame_from_scenarios(scen, dates, series, realized)
        scenarios[method] = ScenarioSet(scen, dates, series)
    return forecasts, scenarios


def timed(label: str, func, *args, **kwargs):
    start = time.perf_counter()
    out = func(*args, **kwargs)
    print(f"{label:<42s} {time.perf_counter() - start:7.2f} s  ({len(out)} rows)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=22)
    parser.add_argument("--days", type=int, default=1006)
    parser.add_argument("--n-sim", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    forecasts, scenarios = synthetic_inputs(args.series, args.days, args.seed)
    print(
        f"synthetic inputs ({args.series} series x {len(METHODS)} methods x {args.days} "
        f"days): {time.perf_counter() - start:.1f} s (not part of the battery)"
    )
    total = time.perf_counter()
    timed(
        "backtest_table (scenario Z2 null)",
        backtest_table,
        forecasts,
        scenarios,
        n_sim=args.n_sim,
        seed=args.seed,
    )
    timed(
        "backtest_table (parametric Z2 null)",
        backtest_table,
        forecasts,
        None,
        n_sim=args.n_sim,
        seed=args.seed,
    )
    timed("traffic_light_table", traffic_light_table, forecasts)
    timed("diebold_mariano_table (fz0)", diebold_mariano_table, forecasts)
    timed("diebold_mariano_table (pinball)", diebold_mariano_table, forecasts, loss="pinball")
    timed("constituent_coverage_table", constituent_coverage_table, forecasts)
    print(f"{'whole battery':<42s} {time.perf_counter() - total:7.2f} s")


if __name__ == "__main__":
    main()
