"""Stage ``generate``.

DDPM scenarios for every test day and series (and the sampler ablation sets), the
walk-forward refits (``ddpm_wf``) and the seed ensemble (``ddpm_ens``). Writes
``data/forecasts/ddpm*.parquet`` / ``_scenarios.npz`` / ``.audit.json``,
``data/forecasts/ddpm_ens_members.parquet``, ``models/ddpm_wf/version_<k>.pt`` and
``reports/tables/ddpm_diagnostics.csv``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from diffrisk.core import audit, io, paths
from diffrisk.core.checks import check_int
from diffrisk.core.compute import shared_scheduler
from diffrisk.core.params import parse_list
from diffrisk.core.tables import write_csv_table
from diffrisk.data.returns import check_series, load_returns
from diffrisk.data.splits import Splits
from diffrisk.ddpm.ensemble import forecast_members
from diffrisk.ddpm.forecast import forecast_ddpm, validation_diagnostics
from diffrisk.ddpm.model import DDPMModel, load_checkpoint
from diffrisk.ddpm.walk_forward import forecast_walk_forward, walk_forward_versions
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.forecasts.contract import ScenarioSet
from diffrisk.forecasts.store import save_forecasts
from diffrisk.stages.ddpm_settings import sampler_settings

logger = logging.getLogger(__name__)


def _record(
    method: str,
    run: Mapping[str, Any],
    model: DDPMModel,
    scen: ScenarioSet,
    seed: int,
    data_hash: str,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The provenance record of one forecast set."""
    return audit.provenance(
        {
            "method": method,
            **{k: v for k, v in run.items() if k != "series"},
            "series": scen.series,
            "design": scen.design,
            "ddpm": model.config.to_dict(),
        },
        seed,
        data_hash,
        extra=dict(extra),
    )


def _walk_forward(
    model: DDPMModel,
    returns: pd.DataFrame,
    dates: pd.DatetimeIndex,
    frequency: str,
    wf_epochs: int,
    sampling: Mapping[str, Any],
) -> tuple[pd.DataFrame, ScenarioSet, dict[str, Any]]:
    """``ddpm_wf``: refit the versions, save their checkpoints, forecast every series.

    Returns the frame, the scenarios and the provenance entry listing every version.
    """
    versions = walk_forward_versions(
        model, returns, dates, frequency=frequency, epochs=wf_epochs, seed=sampling["seed"]
    )
    for v in versions:
        if v.version > 0:  # version 0 is models/ddpm.pt, saved by the train stage
            v.model.save(paths.walk_forward_checkpoint(v.version))
    frame, scen = forecast_walk_forward(versions, returns, **sampling)
    records = []
    for v in versions:
        path = paths.walk_forward_checkpoint(v.version)
        records.append(
            {
                **v.record(),
                "checkpoint": str(path.relative_to(paths.project_root())),
                "checkpoint_sha256": weights_sha256(path),
            }
        )
    return frame, scen, {"versions": records}


def _ensemble(
    members: int,
    returns: pd.DataFrame,
    dates: pd.DatetimeIndex,
    heads: Sequence[str],
    sampling: Mapping[str, Any],
) -> tuple[pd.DataFrame, ScenarioSet, dict[str, Any]]:
    """``ddpm_ens``: pool the members' scenarios on the headline series.

    Writes every member's table to ``data/forecasts/ddpm_ens_members.parquet`` and returns
    the pooled frame, the pooled scenarios and the provenance entry listing the members.
    """
    checkpoints = [paths.ensemble_checkpoint(k) for k in range(members)]
    models = [load_checkpoint(path) for path in checkpoints]
    frame, scen, member_frames = forecast_members(models, returns, dates, series=heads, **sampling)
    io.write_parquet(paths.forecast_file("ddpm_ens_members"), member_frames)
    records = [
        {"member": k, "checkpoint_sha256": weights_sha256(path)}
        for k, path in enumerate(checkpoints)
    ]
    return frame, scen, {"members": records}


def generate_forecasts(
    *,
    n_scenarios: int,
    sampler: str,
    n_steps: int,
    order: int,
    eta: float,
    spacing: str,
    noise: str,
    large_n_scenarios: int,
    members: int,
    frequency: str,
    wf_epochs: int,
    headline: str | Sequence[str],
    splits: Splits,
    seed: int,
    workers: int = 1,
) -> dict[str, Any]:
    """Run the ``generate`` stage: DDPM scenarios for every test day and series.

    Writes five forecast sets (DESIGN §5 format, with scenarios and provenance):

    * ``ddpm`` — the static model (``models/ddpm.pt``) with the configured sampler
      (``sampler``, ``n_steps``, ``order``, ``eta``) and ``n_scenarios`` scenarios, every
      series;
    * ``ddpm_ancestral`` — the ancestral DDPM sampler over all diffusion steps, headline
      series (the reference the fast sampler is compared with);
    * ``ddpm_5000`` — ``large_n_scenarios`` scenarios with the configured sampler,
      headline series (how much of the tail noise is Monte-Carlo error);
    * ``ddpm_wf`` — walk-forward: every ``frequency`` period served by a model fitted
      through the day before it (``models/ddpm.pt`` for the first period only if it was
      fitted through the end of validation), each refit on every return up to that day,
      warm-started from the previous version for ``wf_epochs`` epochs; every series; the
      frame's ``model_version`` column and the provenance name each forecast's version;
    * ``ddpm_ens`` — the ``members`` seed members pooled (``members × n_scenarios``
      scenarios), headline series; every member's own table goes to
      ``data/forecasts/ddpm_ens_members.parquet``.

    ``workers`` (``generate.workers``) draws every set's scenarios as that many Dask
    tasks of whole sampler chunks (:func:`diffrisk.ddpm.forecast.forecast_ddpm`), every
    set on one embedded cluster (:func:`~diffrisk.core.compute.shared_scheduler`); the
    outputs are byte-identical for any number (1 = in process).

    Returns
    -------
    dict
        ``{"forecasts": {method: frame}, "diagnostics": DataFrame, "seconds": {...}}``.
    """
    import time

    workers = check_int(workers, "generate.workers", 1)
    model = load_checkpoint(paths.ddpm_checkpoint())
    returns = load_returns()
    dates = splits.dates(returns, "test")
    heads = check_series(parse_list(headline), returns, "data.series")
    sampling = {"eta": float(eta), "spacing": spacing, "noise": noise, "order": int(order)}
    configured = {"sampler": sampler, "n_steps": int(n_steps)}
    runs = {
        "ddpm": {**configured, "n_scenarios": int(n_scenarios), "series": None},
        "ddpm_ancestral": {
            "sampler": "ddpm",
            "n_steps": None,
            "n_scenarios": int(n_scenarios),
            "series": heads,
        },
        "ddpm_5000": {**configured, "n_scenarios": int(large_n_scenarios), "series": heads},
    }
    data_hash = audit.recorded_data_hash()
    ckpt = {"checkpoint_sha256": weights_sha256(paths.ddpm_checkpoint())}
    out, seconds, diags = {}, {}, []

    def save(method: str, frame: pd.DataFrame, scen: ScenarioSet, record: dict) -> None:
        save_forecasts(method, frame, scen, provenance=record)
        diag = validation_diagnostics(frame, scen)
        diag.insert(0, "method", method)
        diags.append(diag)
        out[method] = frame
        logger.info("%s: %d days × %d series", method, len(dates), len(scen.series))

    with shared_scheduler(workers) as scheduler:
        for method, run in runs.items():
            tic = time.perf_counter()
            frame, scen = forecast_ddpm(
                model,
                returns,
                dates,
                n_scenarios=run["n_scenarios"],
                sampler=run["sampler"],
                n_steps=run["n_steps"],
                seed=int(seed),
                series=run["series"],
                workers=workers,
                scheduler=scheduler,
                **sampling,
            )
            seconds[method] = round(time.perf_counter() - tic, 1)
            save(
                method,
                frame,
                scen,
                _record(method, {**run, **sampling}, model, scen, seed, data_hash, ckpt),
            )

        common = {"n_scenarios": int(n_scenarios), "seed": int(seed), **configured, **sampling}
        # how the draws run, not what they are: not in the records
        common |= {"workers": workers, "scheduler": scheduler}
        tic = time.perf_counter()
        frame, scen, extra = _walk_forward(model, returns, dates, frequency, int(wf_epochs), common)
        seconds["ddpm_wf"] = round(time.perf_counter() - tic, 1)
        run = {**configured, **sampling, "n_scenarios": int(n_scenarios)}
        wf_run = {**run, "frequency": frequency, "wf_epochs": int(wf_epochs)}
        save(
            "ddpm_wf", frame, scen, _record("ddpm_wf", wf_run, model, scen, seed, data_hash, extra)
        )

        tic = time.perf_counter()
        frame, scen, extra = _ensemble(int(members), returns, dates, heads, common)
        seconds["ddpm_ens"] = round(time.perf_counter() - tic, 1)
        ens_run = {**run, "members": int(members)}
        save(
            "ddpm_ens",
            frame,
            scen,
            _record("ddpm_ens", ens_run, model, scen, seed, data_hash, extra),
        )

    diagnostics = pd.concat(diags, ignore_index=True)
    write_csv_table(paths.tables_dir() / "ddpm_diagnostics.csv", diagnostics)
    io.write_json(paths.models_dir() / "generate_timing.json", seconds)
    return {"forecasts": out, "diagnostics": diagnostics, "seconds": seconds}


def run(
    *,
    seed: int,
    n_scenarios: int,
    generate: Mapping[str, Any],
    data: Mapping[str, Any],
    select: Mapping[str, Any],
) -> dict[str, Any]:
    """Stage ``generate``: :func:`generate_forecasts` with its ``dvc.yaml`` parameters."""
    return generate_forecasts(
        **sampler_settings(generate),
        n_scenarios=n_scenarios,
        members=select["members"],
        frequency=select["frequency"],
        wf_epochs=select["wf_epochs"],
        headline=data["series"],
        splits=Splits.from_mapping(data),
        seed=seed,
    )
