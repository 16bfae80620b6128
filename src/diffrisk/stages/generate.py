"""Stage ``generate``.

DDPM scenarios for every test day and series (and the sampler ablation sets). Writes
``data/forecasts/ddpm*.parquet`` / ``_scenarios.npz`` and
``reports/tables/ddpm_diagnostics.csv``.

:func:`run` takes the stage's parameter sections (as ``dvc.yaml`` declares them) and calls
the worker with explicit arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from diffrisk.core import audit, io, paths
from diffrisk.core.params import parse_list
from diffrisk.core.tables import write_csv_table
from diffrisk.data.returns import check_series, load_returns
from diffrisk.data.splits import Splits
from diffrisk.ddpm.forecast import forecast_ddpm, validation_diagnostics
from diffrisk.ddpm.model import load_checkpoint
from diffrisk.forecasts.store import save_forecasts

logger = logging.getLogger(__name__)


def generate_forecasts(
    *,
    n_scenarios: int,
    sampler: str,
    n_steps: int,
    eta: float,
    spacing: str,
    noise: str,
    large_n_scenarios: int,
    headline: str | Sequence[str],
    splits: Splits,
    seed: int,
) -> dict[str, Any]:
    """Run the ``generate`` stage: DDPM scenarios for every test day and series.

    Writes three forecast sets (DESIGN §5 format, with scenarios and provenance):

    * ``ddpm`` — the configured sampler (``sampler``, ``n_steps``, ``eta``) with
      ``n_scenarios`` scenarios, every series;
    * ``ddpm_ancestral`` — the ancestral DDPM sampler over all diffusion steps, headline
      series (the reference the fast sampler is compared with);
    * ``ddpm_5000`` — ``large_n_scenarios`` scenarios with the configured sampler,
      headline series (how much of the tail noise is Monte-Carlo error).

    Returns
    -------
    dict
        ``{"forecasts": {method: frame}, "diagnostics": DataFrame, "seconds": {...}}``.
    """
    import time

    model = load_checkpoint(paths.ddpm_checkpoint())
    returns = load_returns()
    dates = splits.dates(returns, "test")
    heads = check_series(parse_list(headline), returns, "data.series")
    runs = {
        "ddpm": {
            "sampler": sampler,
            "n_steps": int(n_steps),
            "n_scenarios": int(n_scenarios),
            "series": None,
        },
        "ddpm_ancestral": {
            "sampler": "ddpm",
            "n_steps": None,
            "n_scenarios": int(n_scenarios),
            "series": heads,
        },
        "ddpm_5000": {
            "sampler": sampler,
            "n_steps": int(n_steps),
            "n_scenarios": int(large_n_scenarios),
            "series": heads,
        },
    }
    data_hash = audit.recorded_data_hash()
    ckpt_hash = audit.file_sha256(paths.ddpm_checkpoint())
    out, seconds, diags = {}, {}, []
    for method, run in runs.items():
        tic = time.perf_counter()
        frame, scen = forecast_ddpm(
            model,
            returns,
            dates,
            n_scenarios=run["n_scenarios"],
            sampler=run["sampler"],
            n_steps=run["n_steps"],
            eta=float(eta),
            spacing=spacing,
            noise=noise,
            seed=int(seed),
            series=run["series"],
        )
        seconds[method] = round(time.perf_counter() - tic, 1)
        logger.info(
            "%s: %d days × %d series in %.1f s",
            method,
            len(dates),
            len(scen.series),
            seconds[method],
        )
        record = audit.provenance(
            {
                "method": method,
                **{k: v for k, v in run.items() if k != "series"},
                "eta": eta,
                "spacing": spacing,
                "noise": noise,
                "series": scen.series,
                "ddpm": model.config.to_dict(),
            },
            seed,
            data_hash,
            extra={"checkpoint_sha256": ckpt_hash},
        )
        save_forecasts(method, frame, scen, provenance=record)
        diag = validation_diagnostics(frame, scen)
        diag.insert(0, "method", method)
        diags.append(diag)
        out[method] = frame
    diagnostics = pd.concat(diags, ignore_index=True)
    write_csv_table(paths.tables_dir() / "ddpm_diagnostics.csv", diagnostics)
    io.write_json(paths.models_dir() / "generate_timing.json", seconds)
    return {"forecasts": out, "diagnostics": diagnostics, "seconds": seconds}


def run(
    *, seed: int, n_scenarios: int, generate: Mapping[str, Any], data: Mapping[str, Any]
) -> dict[str, Any]:
    """Stage ``generate``: :func:`generate_forecasts` with its ``dvc.yaml`` parameters."""
    return generate_forecasts(
        **generate,
        n_scenarios=n_scenarios,
        headline=data["series"],
        splits=Splits.from_mapping(data),
        seed=seed,
    )
