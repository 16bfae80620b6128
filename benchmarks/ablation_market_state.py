"""Market-state conditioning of the DDPM: keep it or not, decided inside validation.

Replays the select stage's rehearsal (:func:`diffrisk.study.selection.nested_validation`'s
protocol): fit on train (``<= data.train_end``), select epochs on ``data.val_start ..
data.select_end``, no final refit, forecast and score ``select_end + 1 .. data.val_end``
by the daily FZ0 averaged over the headline series (``data.series``) and α ∈ {5 %, 1 %}.
The returns are cut at ``data.val_end`` before anything is computed: the test period is
never loaded.

Configurations (the tuned DDPM configuration of ``params.yaml`` + ``best_params.yaml``,
same seed, same sampler):

* ``off`` — ``market_features=""`` (today's model);
* ``market`` — ``--features`` (default: all four), cross-section ``--columns``, index
  ``--index``.

Rule (written before the run, /work/notes/helper-marketstate.md): ``market`` is kept only
if its mean daily FZ0 gain over ``off`` exceeds ``--margin-se`` Newey–West standard errors
(:func:`diffrisk.study.selection.primary_choice`). Also reported: per-cell FZ0 and
exceptions, and 1 %-exceptions in the last quarter of the scored period.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/ablation_market_state.py \\
        --returns data/processed/returns.parquet --params params.yaml \\
        --best-params models/best_params.yaml --out market_state.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from diffrisk.core import io  # noqa: E402
from diffrisk.data.returns import returns_until  # noqa: E402
from diffrisk.data.splits import Splits  # noqa: E402
from diffrisk.ddpm.config import DDPMConfig  # noqa: E402
from diffrisk.ddpm.fit import fit_ddpm  # noqa: E402
from diffrisk.ddpm.forecast import forecast_ddpm  # noqa: E402
from diffrisk.study.selection import daily_fz0, primary_choice, score_cells  # noqa: E402

logger = logging.getLogger("ablation_market_state")


def tuned_config(params: dict[str, Any], best_params: Path | None) -> DDPMConfig:
    """The ``ddpm`` section with the tuned values, no final refit (the rehearsal's model)."""
    tuned: dict[str, Any] = {}
    if best_params is not None and best_params.is_file():
        record = yaml.safe_load(best_params.read_text()) or {}
        if record.get("tuned"):
            tuned = dict(record.get("best_params", {}))
    return DDPMConfig.from_dict({**params["ddpm"], **tuned, "final_refit": False})


def quarter_exceptions(frame: pd.DataFrame, start: pd.Timestamp) -> dict[str, int]:
    """1 %-exceptions per series on the days from ``start`` on."""
    sub = frame[frame["date"] >= start]
    return {
        str(s): int((g["realized"] < g["var_01"]).sum())
        for s, g in sub.groupby("series", sort=False)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--returns", type=Path, default=Path("data/processed/returns.parquet"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--best-params", type=Path, default=Path("models/best_params.yaml"))
    parser.add_argument("--out", type=Path, default=Path("market_state_ablation.json"))
    parser.add_argument("--features", default="xs_vol,avg_corr,index_vol,drawdown")
    parser.add_argument("--columns", default="all")
    parser.add_argument("--index", default="", help="index column; '' = data.index_name")
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--n-steps", type=int, default=20)
    parser.add_argument("--order", type=int, default=2)
    parser.add_argument("--n-scenarios", type=int, default=500)
    parser.add_argument("--margin-se", type=float, default=1.0)
    parser.add_argument("--quarter-start", default="2018-10-01")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    params = yaml.safe_load(args.params.read_text())
    d = params["data"]
    splits = Splits.from_params(
        d["train_end"], d["val_start"], d["val_end"], d["test_start"], None, d["select_end"]
    )
    returns = pd.read_parquet(args.returns)
    data = returns_until(returns, splits, "validation")  # never a test row
    assert data.index.max() <= splits.val_end
    rehearsal = splits.rehearsal()
    dates = rehearsal.dates(data, "test")
    heads = [s.strip() for s in str(d["series"]).split(",") if s.strip()]
    seed = int(params["seed"])
    gen = params["generate"]
    sampling = {k: gen[k] for k in ("sampler", "eta", "spacing", "noise")}
    base = tuned_config(params, args.best_params)
    index = args.index or str(d.get("index_name", ""))
    configs = {
        "off": base,
        "market": DDPMConfig.from_dict(
            {
                **base.to_dict(),
                "market_features": args.features,
                "market_columns": args.columns,
                "market_index": index if index in data.columns else "",
                "market_window": args.window,
            }
        ),
    }
    result: dict[str, Any] = {
        "rule": (
            "market kept only if its mean daily FZ0 gain over off (headline series x alpha "
            f"5%/1%, rehearsal outer period) exceeds {args.margin_se} Newey-West SE"
        ),
        "scored": f"{dates[0].date()} ... {dates[-1].date()}",
        "headline": heads,
        "seed": seed,
        "sampling": {**sampling, "n_steps": args.n_steps, "order": args.order},
        "n_scenarios": args.n_scenarios,
        "configs": {},
    }
    frames = {}
    for name, cfg in configs.items():
        tic = time.perf_counter()
        model, metrics = fit_ddpm(data, rehearsal, cfg, seed=seed, progress=False)
        fit_s = time.perf_counter() - tic
        frame, _ = forecast_ddpm(
            model,
            data,
            dates,
            n_scenarios=args.n_scenarios,
            seed=seed,
            series=heads,
            n_steps=args.n_steps,
            order=args.order,
            progress=False,
            **sampling,
        )
        frames[name] = frame
        cells = score_cells(frame, heads)
        result["configs"][name] = {
            "market_features": cfg.market_features,
            "market_columns": list(model.market.columns) if model.market else [],
            "market_index": cfg.market_index,
            "best_epoch": int(metrics["best_epoch"]),
            "best_val_score": float(metrics["best_val_score"]),
            "fit_s": round(fit_s, 1),
            "score": float(np.mean([c["fz0_mean"] for c in cells])),
            "cells": cells,
            "exceptions_01_from_quarter_start": quarter_exceptions(
                frame, pd.Timestamp(args.quarter_start)
            ),
        }
        logger.info("%s: %s", name, json.dumps(result["configs"][name], default=str))
    losses = {m: daily_fz0(f, heads) for m, f in frames.items()}
    choice, margin = primary_choice(losses, ("off", "market"), args.margin_se)
    result.update(choice=choice, margin=margin["market"], keep=choice == "market")
    io.write_json(args.out, result, digits=5)
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
