"""The generate stage's one-day scenarios on Dask: wall time per worker count, same bytes.

Runs :func:`diffrisk.ddpm.forecast.forecast_ddpm` on the pipeline's trained model
(``models/ddpm.pt``) and returns (``data/processed/returns.parquet``) of a project root
(``--root``, default the checkout's: ``DIFFRISK_ROOT`` or the current directory), with the
``generate`` stage's sampling settings (``params.yaml``'s ``generate`` section, ``auto``
resolved from ``reports/metrics/selection.json``), for the first ``--days`` test days and
``--series`` (default every series of the model), once per ``--workers`` count. Prints the
wall time of each run and whether its scenarios (and forecast table) are byte-identical to
the first run's, and with ``--against METHOD`` (only with ``--days 0``, the stage's
conditions: one generator runs through all of them, so a subset of days draws other noise)
to the pipeline's stored set (``data/forecasts/<METHOD>_scenarios.npz``: ``ddpm`` for the
configured sampler, ``ddpm_ancestral`` with ``--sampler ddpm --series portfolio,sp500``).
Reads only; writes nothing unless ``--out``.

Usage::

    OMP_NUM_THREADS=1 DIFFRISK_ROOT=/path/to/checkout python benchmarks/bench_generate_dask.py \\
        --days 250 --workers 1 2 [--sampler ddpm] [--series portfolio,sp500] [--against ddpm] \
        [--out r.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from typing import Any

import numpy as np
import yaml

from diffrisk.core import paths
from diffrisk.data.returns import load_returns
from diffrisk.data.splits import Splits
from diffrisk.ddpm.forecast import forecast_ddpm
from diffrisk.ddpm.model import load_checkpoint
from diffrisk.forecasts.contract import ScenarioSet
from diffrisk.forecasts.store import load_scenarios
from diffrisk.stages.ddpm_settings import sampler_settings

SAMPLING_KEYS = ("sampler", "n_steps", "order", "eta", "spacing", "noise")


def digest(array: np.ndarray) -> str:
    """SHA-256 of an array's bytes (dtype and shape included)."""
    h = hashlib.sha256(f"{array.dtype}{array.shape}".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def stored_subset(method: str, scen: ScenarioSet) -> np.ndarray:
    """The stored set ``method``'s scenarios on the days and series of ``scen``."""
    stored = load_scenarios(method)
    rows = [list(stored.series).index(name) for name in scen.series]
    days = stored.dates.get_indexer(scen.dates)
    if (days < 0).any():
        raise ValueError(f"{method}: the stored set lacks some of the benchmark's dates")
    return stored.scenarios[rows][:, days]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=None, help="project root (default: DIFFRISK_ROOT / cwd)")
    ap.add_argument("--days", type=int, default=250, help="first test days (0 = all)")
    ap.add_argument("--series", default=None, help="comma-separated (default: all)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--n-scenarios", type=int, default=None, help="default params.yaml's")
    ap.add_argument("--sampler", default=None, help="override generate.sampler (ddim | ddpm)")
    ap.add_argument("--against", default=None, help="stored set to compare with (e.g. ddpm)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()
    if args.against and args.days:
        ap.error("--against compares the whole test period: use it with --days 0")
    if args.root:
        os.environ["DIFFRISK_ROOT"] = args.root
    params = yaml.safe_load(paths.params_file().read_text())
    settings = sampler_settings(params["generate"])
    sampling: dict[str, Any] = {k: settings[k] for k in SAMPLING_KEYS}
    if args.sampler:
        sampling["sampler"] = args.sampler
    if sampling["sampler"] == "ddpm":
        sampling["n_steps"] = None
    model = load_checkpoint(paths.ddpm_checkpoint())
    returns = load_returns()
    dates = Splits.from_mapping(params["data"]).dates(returns, "test")
    dates = dates[: args.days] if args.days else dates
    series = args.series.split(",") if args.series else None
    n_scenarios = args.n_scenarios or int(params["n_scenarios"])
    print(
        f"{len(dates)} days x {len(series or model.series)} series x {n_scenarios} scenarios, "
        f"{sampling}, load average {os.getloadavg()[0]:.1f} (shared machine: timings are "
        "indicative)"
    )
    rows, first = [], None
    for workers in args.workers:
        tic = time.perf_counter()
        frame, scen = forecast_ddpm(
            model,
            returns,
            dates,
            n_scenarios=n_scenarios,
            seed=int(params["seed"]),
            series=series,
            progress=False,
            workers=workers,
            **sampling,
        )
        wall = time.perf_counter() - tic
        row = {
            "workers": workers,
            "wall_s": round(wall, 2),
            "scenarios_sha256": digest(scen.scenarios),
            "frame_sha256": hashlib.sha256(frame.to_csv().encode()).hexdigest(),
            "load_average": round(os.getloadavg()[0], 1),
        }
        if args.against:
            expected = stored_subset(args.against, scen)
            row[f"identical_to_stored_{args.against}"] = (
                expected.dtype == scen.scenarios.dtype
                and expected.tobytes() == scen.scenarios.tobytes()
            )
        if first is None:
            first = row
        row["identical_to_first"] = (
            row["scenarios_sha256"] == first["scenarios_sha256"]
            and row["frame_sha256"] == first["frame_sha256"]
        )
        rows.append(row)
        print(json.dumps(row))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"sampling": sampling, "days": len(dates), "runs": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
