"""Time the classical baselines (``baselines`` stage) on the full default data.

22 series (portfolio, sp500, 20 constituents) x the test days 2019-01-02 ... 2022-12-28
(1006 days), default arguments of each method. ``garch_t`` and ``fhs`` are timed alone
and together through ``run_baselines`` (which fits the GARCH models once for both).
Wall time and this process's CPU time are printed: the machine is shared, so CPU time is
the steadier number.

Optional: ``--refit-every 10 40`` times garch_t for other refit intervals, and
``--compare-daily portfolio sp500 [--compare-k 5 20 60]`` measures, on the validation
period 2015-2018 (never on the test period), how far the refit-every-k forecasts are
from daily refits (the accuracy side of the trade-off; daily refits cost about 1000 fits
per series).

``--workers 1 2`` runs the ``baselines`` stage's own configuration (every method of
``params.yaml``'s ``baselines`` section) through ``run_baselines`` with each
number of Dask workers, and checks that the forecasts are identical.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_baselines.py``
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import pandas as pd

from diffrisk.baselines.garch import fhs, garch_t
from diffrisk.baselines.historical import hs, mc_normal
from diffrisk.baselines.registry import run_baselines
from diffrisk.core import paths
from diffrisk.core.params import parse_list
from diffrisk.stages.baseline_settings import baseline_config
from diffrisk.stages.params import stage_params

TEST_START = "2019-01-01"
VALIDATION = ("2015-01-01", "2018-12-31")


def skfolio_returns() -> pd.DataFrame:
    """The default data frame built directly from skfolio (when the data stage has not run)."""
    from skfolio.datasets import load_sp500_dataset, load_sp500_index

    prices, index = load_sp500_dataset(), load_sp500_index()
    stocks = np.log(prices).diff().iloc[1:]
    frame = pd.concat(
        [
            np.log(np.exp(stocks).mean(axis=1)).rename("portfolio"),
            np.log(index.iloc[:, 0]).diff().iloc[1:].rename("sp500"),
            stocks,
        ],
        axis=1,
    )
    frame.index = pd.DatetimeIndex(frame.index, name="date")
    return frame


def default_returns() -> pd.DataFrame:
    if paths.returns_file().is_file():
        from diffrisk.data import load_returns

        return load_returns()
    print("data/processed/returns.parquet not found: building the frame from skfolio")
    return skfolio_returns()


def timed(label: str, func, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = func(*args, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<44s} {wall:8.1f} {cpu:8.1f}", flush=True)
    return out


def compare_daily(returns, dates, series, refit_every) -> None:
    """VaR of refit-every-k vs daily refits (1 % and 5 %), and exception rates."""
    daily, _ = garch_t(returns, dates, refit_every=1, series=series)
    for k in refit_every:
        frame, _ = garch_t(returns, dates, refit_every=k, series=series)
        for col in ("var_05", "var_01"):
            rel = (frame[col] / daily[col] - 1).abs()
            exc_k = (frame["realized"] < frame[col]).mean()
            exc_1 = (daily["realized"] < daily[col]).mean()
            print(
                f"refit_every={k:<3d} {col}: |VaR_k/VaR_1 - 1| mean {rel.mean():.4f} "
                f"max {rel.max():.4f}; exception rate {exc_k:.4f} (daily refit {exc_1:.4f})"
            )


def compare_workers(returns, dates, workers) -> None:
    """The stage's configuration with each number of workers; results must be identical."""
    params = stage_params("baselines")
    section = params["baselines"]
    methods = parse_list(section["methods"])
    config = baseline_config(methods, section, int(params["n_scenarios"]))
    first = None
    for n in workers:
        out = timed(
            f"stage config, {len(methods)} methods, workers={n}",
            run_baselines,
            returns,
            dates,
            methods,
            config,
            seed=int(params["seed"]),
            workers=n,
        )
        if first is None:
            first = out
            continue
        for m, (frame, scen) in first.items():
            pd.testing.assert_frame_equal(out[m][0], frame, check_exact=True)
            assert scen is None or np.array_equal(out[m][1].scenarios, scen.scenarios), m
        print(f"  workers={n}: forecasts and scenarios identical to workers={workers[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refit-every", type=int, nargs="*", default=[])
    parser.add_argument("--compare-daily", nargs="*", default=[], metavar="SERIES")
    parser.add_argument("--compare-k", type=int, nargs="*", default=[5, 20, 60])
    parser.add_argument("--skip-default", action="store_true", help="only the options")
    parser.add_argument("--workers", type=int, nargs="*", default=[], help="e.g. 1 2")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    returns = default_returns()
    dates = returns.loc[TEST_START:].index
    print(
        f"{returns.shape[1]} series x {len(dates)} forecast days "
        f"({dates[0].date()} ... {dates[-1].date()}), history from {returns.index[0].date()}"
    )
    print(f"{'step':<44s} {'wall s':>8s} {'cpu s':>8s}")
    if not args.skip_default:
        timed("hs (window=250)", hs, returns, dates)
        timed("mc_normal (window=250, N=500)", mc_normal, returns, dates, seed=0)
        timed("garch_t (refit_every=20, N=500)", garch_t, returns, dates, seed=0)
        timed("fhs (refit_every=20, M=1000)", fhs, returns, dates)
        timed(
            "garch_t, expanding fit sample (max_obs=None)",
            garch_t,
            returns,
            dates,
            max_obs=None,
        )
        timed(
            "run_baselines: all four, shared GARCH fits",
            run_baselines,
            returns,
            dates,
            seed=0,
        )
    if args.workers:
        compare_workers(returns, dates, args.workers)
    for k in args.refit_every:
        timed(f"garch_t (refit_every={k})", garch_t, returns, dates, refit_every=k)
    if args.compare_daily:
        validation = returns.loc[VALIDATION[0] : VALIDATION[1]].index
        compare_daily(returns, validation, args.compare_daily, args.compare_k)


if __name__ == "__main__":
    main()
