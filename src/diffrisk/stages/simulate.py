"""Stage ``simulate``.

The known-truth check on a simulated GARCH(1,1)-t series. Writes
``reports/tables/simulation.{csv,md}``.

:func:`run` takes the stage's parameter sections (as ``dvc.yaml`` declares them) and calls
the worker with explicit arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from diffrisk.core import audit, io, paths
from diffrisk.core.tables import markdown_table
from diffrisk.data.returns import load_returns
from diffrisk.data.splits import Splits
from diffrisk.ddpm.fit import fit_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm
from diffrisk.stages.ddpm_settings import ddpm_config
from diffrisk.study.simulation import DEFAULT_PARAMS
from diffrisk.study.simulation_scoring import default_runners, run_simulation, save_simulation_table


def simulate_known_truth(
    *,
    ddpm: Mapping[str, Any],
    use_tuned: bool,
    baseline_params: Mapping[str, Any],
    generate_params: Mapping[str, Any],
    n_scenarios: int,
    splits: Splits,
    seed: int,
) -> dict[str, Any]:
    """Run the ``simulate`` stage: every method on a GARCH-t series with known truth.

    A GARCH(1,1)-t series with the parameters of
    :data:`diffrisk.study.simulation.DEFAULT_PARAMS` is simulated on the study's calendar; the
    baselines (with the ``baselines`` parameters) and the DDPM (the same configuration
    as the main run, fitted on the simulated training period and selected on its
    validation period) forecast its test period; each method's FZ0 is compared with the
    true model's, the floor no method can beat in expectation.

    Parameters
    ----------
    ddpm, use_tuned
        As for :func:`run_train`.
    baseline_params : mapping
        The ``baselines`` section (window, refit_every, min_obs, max_obs, fhs_residuals).
    generate_params : mapping
        The ``generate`` section (sampler, n_steps, eta, spacing, noise).
    n_scenarios : int
        Scenarios per day.
    splits : Splits
    seed : int

    Returns
    -------
    dict
        ``table`` (``reports/tables/simulation.csv``), ``params`` (the true parameters).
    """
    from dataclasses import asdict

    config, tuned = ddpm_config(ddpm, use_tuned)
    calendar = load_returns().index
    test_dates = splits.dates(pd.DataFrame(index=calendar), "test")
    runners = default_runners(
        window=int(baseline_params["window"]),
        n_scenarios=int(n_scenarios),
        refit_every=int(baseline_params["refit_every"]),
        min_obs=int(baseline_params["min_obs"]),
        fhs_residuals=int(baseline_params["fhs_residuals"]),
        max_obs=int(baseline_params["max_obs"]) or None,
        seed=int(seed),
    )

    def ddpm_runner(returns: pd.DataFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        model, _ = fit_ddpm(returns, splits, config, seed=int(seed), progress=False)
        frame, _ = forecast_ddpm(
            model,
            returns,
            dates,
            n_scenarios=int(n_scenarios),
            sampler=generate_params["sampler"],
            n_steps=int(generate_params["n_steps"]),
            eta=float(generate_params["eta"]),
            spacing=generate_params["spacing"],
            noise=generate_params["noise"],
            seed=int(seed),
            progress=False,
        )
        return frame

    runners["ddpm"] = ddpm_runner
    params = DEFAULT_PARAMS
    table = run_simulation(runners, params, calendar, test_dates, seed=int(seed))
    save_simulation_table(table)
    caption = (
        "**Table S1. Known-truth simulation.** Mean FZ0 of each method on a simulated "
        "GARCH(1,1)-t series (known parameters) and its excess over the true model's "
        "(the floor; Diebold–Mariano against the true model).\n\n"
    )
    io.write_text(paths.tables_dir() / "simulation.md", caption + markdown_table(table))
    record = audit.provenance(
        {
            "true_params": asdict(params),
            "ddpm": config.to_dict(),
            "tuned": tuned,
            "baselines": dict(baseline_params),
            "generate": dict(generate_params),
        },
        seed,
        audit.recorded_data_hash(),
    )
    audit.write_provenance(paths.data_dir() / "simulation.audit.json", record)
    return {"table": table, "params": asdict(params)}


def run(
    *,
    seed: int,
    n_scenarios: int,
    data: Mapping[str, Any],
    tune: Mapping[str, Any],
    ddpm: Mapping[str, Any],
    baselines: Mapping[str, Any],
    generate: Mapping[str, Any],
) -> dict[str, Any]:
    """Stage ``simulate``: :func:`simulate_known_truth` with its ``dvc.yaml`` parameters."""
    return simulate_known_truth(
        ddpm=ddpm,
        use_tuned=tune["enabled"],
        baseline_params=baselines,
        generate_params=generate,
        n_scenarios=n_scenarios,
        splits=Splits.from_mapping(data),
        seed=seed,
    )
