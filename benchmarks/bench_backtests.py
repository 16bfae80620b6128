"""Time the ``baselines`` + ``coverage`` work on the real default data (issue target: ≤ 2 min).

Runs the four baselines (HS, Monte-Carlo normal, GARCH(1,1)-t, FHS) for every series
(portfolio, sp500, 20 constituents) and every test day, then the full backtest battery
(every series × method × alpha, Acerbi–Szekely Z2 p-values simulated under each method's
scenarios, traffic-light windows, Diebold–Mariano against FHS, per-constituent coverage).
Needs ``data/processed/returns.parquet`` (``dvc repro data``).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_backtests.py``
"""

from __future__ import annotations

import argparse
import time

from diffrisk.baselines.registry import BASELINE_METHODS, run_baselines
from diffrisk.data.returns import load_returns
from diffrisk.data.splits import Splits
from diffrisk.evaluation.tables import (
    backtest_table,
    constituent_coverage_table,
    diebold_mariano_table,
    traffic_light_table,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refit-every", type=int, default=20)
    parser.add_argument("--n-sim", type=int, default=1000)
    args = parser.parse_args()
    returns = load_returns()
    splits = Splits.from_params("2014-12-31", "2015-01-01", "2018-12-31", "2019-01-01")
    dates = splits.dates(returns, "test")
    config = {
        "garch_t": {"refit_every": args.refit_every},
        "fhs": {"refit_every": args.refit_every},
    }
    tic = time.perf_counter()
    results = run_baselines(returns, dates, BASELINE_METHODS, config, seed=1)
    t_base = time.perf_counter() - tic
    frames = {m: r[0] for m, r in results.items()}
    scen = {m: r[1] for m, r in results.items()}
    tic = time.perf_counter()
    table = backtest_table(frames, scen, n_sim=args.n_sim, seed=1)
    traffic_light_table(frames)
    diebold_mariano_table(frames, benchmark="fhs", loss="fz0")
    diebold_mariano_table(frames, benchmark="fhs", loss="pinball")
    constituent_coverage_table(frames)
    t_battery = time.perf_counter() - tic
    print(f"series: {returns.shape[1]}, test days: {len(dates)}, rows: {len(table)}")
    print(f"baselines (4 methods, refit_every={args.refit_every}): {t_base:6.1f} s")
    print(f"backtest battery (n_sim={args.n_sim}):              {t_battery:6.1f} s")
    print(f"total:                                          {t_base + t_battery:6.1f} s")


if __name__ == "__main__":
    main()
