"""The coverage stage's backtest battery on Dask: 1 vs 2 workers, one task per (series, method).

Data: with ``--pipeline``, the pipeline's forecast tables and scenario sets
(``data/forecasts/``; ``DIFFRISK_ROOT`` reads another checkout's) of ``--methods``
(default: every method of ``coverage.methods`` whose table exists); otherwise a synthetic
set of the default study's shape: ``--series`` series x ``--methods-n`` methods x 1,006
days, ``--scenarios`` scenarios per day for the first ``--with-scenarios`` methods (the
others get the parametric Acerbi–Szekely null, like the calibrated and combined methods).

For each worker count in ``--workers``:

1. :func:`diffrisk.evaluation.tables.backtest_table` with ``--n-sim`` simulations: wall
   time and speed-up (the embedded cluster's start-up and the transfer of every pair's
   scenarios included, as a user sees them); the tables must be byte-identical;
2. the per-task cost: the same tasks (:func:`~diffrisk.evaluation.backtest_pairs.pair_jobs`) run
   through :func:`diffrisk.core.compute.compute_map` with a wrapper that measures, inside
   the task, its wall and CPU time; and the mean pickled size of a task (what travels to
   a worker).

CPU time per task is the number that does not depend on the machine's load: on a shared
machine the wall times (and so the speed-up) depend on what else runs.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_backtests_dask.py``
"""

from __future__ import annotations

import argparse
import pickle
import time
from typing import Any

import numpy as np
import pandas as pd
import yaml

from diffrisk.core import paths
from diffrisk.core.compute import compute_map
from diffrisk.core.params import parse_list
from diffrisk.evaluation.backtest_pairs import PairJob, pair_jobs, pair_rows
from diffrisk.evaluation.tables import backtest_table
from diffrisk.forecasts.contract import ALPHAS, ScenarioSet, risk_frame_from_scenarios
from diffrisk.forecasts.store import load_forecasts, load_scenarios


def timed_pair_rows(job: PairJob) -> tuple[float, float]:
    """Wall and CPU seconds of one task, measured inside it."""
    wall, cpu = time.perf_counter(), time.process_time()
    pair_rows(job)
    return time.perf_counter() - wall, time.process_time() - cpu


def pipeline_data(methods: str) -> tuple[dict[str, pd.DataFrame], dict[str, ScenarioSet]]:
    """The pipeline's forecasts and scenario sets of the methods that exist."""
    params = yaml.safe_load(paths.params_file().read_text())
    wanted = parse_list(methods or params["coverage"]["methods"])
    names = [m for m in wanted if paths.forecast_file(m).is_file()]
    frames = {m: load_forecasts(m) for m in names}
    return frames, {m: load_scenarios(m) for m in names if paths.scenarios_file(m).is_file()}


def synthetic_data(
    n_series: int, n_methods: int, with_scenarios: int, n_scen: int
) -> tuple[dict[str, pd.DataFrame], dict[str, ScenarioSet]]:
    """Student-t returns, normal scenarios of a different scale per method."""
    names = [f"s{i:02d}" for i in range(n_series)]
    dates = pd.bdate_range("2019-01-02", periods=1006)
    realized = np.random.default_rng(0).standard_t(5, (n_series, dates.size)) * 0.01
    frames, scen = {}, {}
    for k in range(n_methods):
        rng = np.random.default_rng(100 + k)
        draws = rng.standard_normal((n_series, dates.size, n_scen), dtype=np.float32)
        draws *= np.float32(0.011 + 0.001 * k)
        frames[f"m{k}"] = risk_frame_from_scenarios(draws, dates, names, realized)
        if k < with_scenarios:
            scen[f"m{k}"] = ScenarioSet(draws, dates, names)
    return frames, scen


def main() -> None:
    """Run the benchmark and print one line per worker count and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", action="store_true", help="the pipeline's forecasts")
    parser.add_argument("--methods", default="", help="with --pipeline: comma-separated")
    parser.add_argument("--series", type=int, default=22)
    parser.add_argument("--methods-n", type=int, default=8)
    parser.add_argument("--with-scenarios", type=int, default=4)
    parser.add_argument("--scenarios", type=int, default=500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--n-sim", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20250515)
    args = parser.parse_args()
    if args.pipeline:
        frames, scen = pipeline_data(args.methods)
        source = f"pipeline ({paths.project_root()})"
    else:
        frames, scen = synthetic_data(
            args.series, args.methods_n, args.with_scenarios, args.scenarios
        )
        source = "synthetic"
    jobs = pair_jobs(frames, scen, list(ALPHAS), args.n_sim, args.seed, "normal", 5.0, 250)
    size = np.mean([len(pickle.dumps(j, protocol=5)) for j in jobs]) / 1e6
    print(
        f"{source}: {len(frames)} methods ({len(scen)} with scenarios), {len(jobs)} "
        f"(series, method) tasks, n_sim {args.n_sim}, {size:.2f} MB pickled per task"
    )
    reference: pd.DataFrame | None = None
    base: float | None = None
    for workers in args.workers:
        start = time.perf_counter()
        table = backtest_table(frames, scen, n_sim=args.n_sim, seed=args.seed, workers=workers)
        wall = time.perf_counter() - start
        base = base or wall
        same = ""
        if reference is None:
            reference = table
        else:
            pd.testing.assert_frame_equal(reference, table, check_exact=True)
            same = ", byte-identical to the first"
        costs: list[Any] = compute_map(timed_pair_rows, jobs, workers, desc="timed tasks")
        task_wall = np.mean([c[0] for c in costs]) * 1000
        task_cpu = np.mean([c[1] for c in costs]) * 1000
        print(
            f"workers {workers}: backtest_table wall {wall:.1f} s (speed-up {base / wall:.2f})"
            f"{same}; per task inside it: wall {task_wall:.0f} ms, CPU {task_cpu:.0f} ms"
        )


if __name__ == "__main__":
    main()
