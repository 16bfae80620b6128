"""Many-portfolios VaR/ES/CDaR throughput on the compute layer: 1 vs 2 Dask workers.

For each P in ``--portfolios`` and each worker count in ``--workers``, runs
:func:`diffrisk.risk.many_portfolios.portfolio_book_risk` on a one-day scenario set of
the constituents: the pipeline's DDPM set ``data/forecasts/ddpm_scenarios.npz`` when it
exists, else a synthetic Student-t set of the same shape (1,006 days x 500 scenarios x
20 assets); the output says which, and ``--days`` keeps the first days (default 250).
Random long-only portfolios, alphas 5 % and 1 %, realised returns for the backtest
columns, results written to part files (the caller's memory does not grow with P).

Reports wall time, portfolio-days per second, the speed-up over 1 worker, the mean time
per task (wall x workers / tasks) and the peak resident memory of the process tree (this
process and Dask's worker processes, sampled every 50 ms with psutil). The embedded
cluster's start-up (a few seconds) is included in the wall time, as a user sees it;
``--startup`` prints it separately.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_many_portfolios.py``
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from diffrisk.core import paths
from diffrisk.core.compute import compute_map
from diffrisk.risk.many_portfolios import PortfolioBook, portfolio_book_risk


class PeakRSS:
    """Peak summed RSS of this process and its descendants, sampled in a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.05)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def scenario_set(work: Path, days: int) -> tuple[Path, np.ndarray, str]:
    """(D, N, A) constituents' scenarios as .npy, realised returns, and where they came from."""
    source = paths.scenarios_file("ddpm")
    returns_file = paths.returns_file()
    if source.is_file() and returns_file.is_file():
        import pandas as pd

        with np.load(source) as npz:
            series = [str(s) for s in npz["series"]]
            dates = pd.to_datetime(npz["dates"])
            keep = [i for i, s in enumerate(series) if s not in ("portfolio", "sp500")]
            scen = np.moveaxis(npz["scenarios"][keep], 0, -1)  # (D, N, A)
        returns = pd.read_parquet(returns_file)
        realized = returns.loc[dates, [series[i] for i in keep]].to_numpy()
        label = f"pipeline DDPM set {source.name}: {scen.shape}"
    else:
        rng = np.random.default_rng(0)
        scen = (rng.standard_t(4, size=(1006, 500, 20)) * 0.01).astype(np.float32)
        realized = rng.standard_t(4, size=(1006, 20)) * 0.01
        label = f"synthetic Student-t(4) set {scen.shape} (no pipeline set found)"
    scen, realized = scen[:days], realized[:days]
    label += f", first {len(scen)} days"
    path = work / "scenarios.npy"
    np.save(path, scen)
    return path, realized, label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portfolios", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunk", type=int, default=500, help="portfolios per task")
    parser.add_argument("--days", type=int, default=250, help="first days of the set used")
    parser.add_argument("--day-chunk", type=int, default=None, help="days per step in a task")
    parser.add_argument("--startup", action="store_true", help="time an empty cluster too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path, realized, label = scenario_set(work, args.days)
        n_days, n_assets = realized.shape
        print(f"scenario set: {label}")
        if args.startup:
            t0 = time.perf_counter()
            compute_map(abs, [1, 2], workers=2)
            print(f"embedded 2-worker cluster start + stop: {time.perf_counter() - t0:.1f} s")
        print(
            "| P | workers | tasks | wall (s) | portfolio-days/s | speed-up | s/task "
            "| peak RSS (MB) |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n_port in args.portfolios:
            base = None
            book = PortfolioBook(n_port, n_assets, "long_only", seed=1)
            tasks = -(-n_port // args.chunk)
            for workers in args.workers:
                with PeakRSS() as mem:
                    t0 = time.perf_counter()
                    portfolio_book_risk(
                        path,
                        book,
                        realized=realized,
                        portfolio_chunk=args.chunk,
                        **({} if args.day_chunk is None else {"day_chunk": args.day_chunk}),
                        workers=workers,
                        out_dir=work / f"out-{n_port}-{workers}",
                    )
                    wall = time.perf_counter() - t0
                base = base or wall
                print(
                    f"| {n_port:,} | {workers} | {tasks} | {wall:.1f} | "
                    f"{n_port * n_days / wall:,.0f} | {base / wall:.2f} | "
                    f"{wall * workers / tasks:.2f} | {mem.peak / 2**20:,.0f} |"
                )


if __name__ == "__main__":
    main()
