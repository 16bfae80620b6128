"""Stage ``simulate``.

The known-truth check on several simulated GARCH(1,1)-t paths. Writes
``reports/tables/simulation.{csv,md}`` (the summary across paths),
``reports/tables/simulation_paths.csv`` (every path), ``data/simulation.parquet`` (the
summary at full precision, read by the report stage) and ``data/simulation.audit.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import pandas as pd

from diffrisk.core import audit, io, paths
from diffrisk.core.tables import markdown_table, write_csv_table
from diffrisk.data.returns import load_returns
from diffrisk.data.splits import Splits
from diffrisk.ddpm.fit import fit_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm
from diffrisk.stages.baseline_settings import baseline_settings
from diffrisk.stages.ddpm_settings import ddpm_config, sampler_settings
from diffrisk.study.simulation import DEFAULT_PARAMS
from diffrisk.study.simulation_scoring import (
    default_runners,
    run_simulation,
    save_simulation_table,
    simulation_summary,
)

#: Sampling options of the ``generate`` section that the DDPM runner uses.
SAMPLING_KEYS: tuple[str, ...] = ("sampler", "n_steps", "order", "eta", "spacing", "noise")


def simulate_known_truth(
    *,
    ddpm: Mapping[str, Any],
    use_tuned: bool,
    baseline_params: Mapping[str, Any],
    sampling: Mapping[str, Any],
    n_scenarios: int,
    n_paths: int,
    splits: Splits,
    seed: int,
) -> dict[str, Any]:
    """Run the ``simulate`` stage: every method on GARCH-t paths with known truth.

    ``n_paths`` independent GARCH(1,1)-t paths with the parameters of
    :data:`diffrisk.study.simulation.DEFAULT_PARAMS` are simulated on the study's calendar
    as the series of one panel (path k with seed ``seed + k``). The baselines (with the
    ``baselines`` parameters) forecast every path; ONE DDPM (the configuration of the
    main run) is fitted on the panel's training period, pooling the paths as it pools
    the real series, selected on its validation period, and forecasts every path's test
    period. Each method's FZ0 is compared with the true model's, the floor no method can
    beat in expectation, path by path and across paths.

    Parameters
    ----------
    ddpm, use_tuned
        The ``ddpm`` section and ``tune.enabled`` (as for the train stage;
        ``final_refit: auto`` takes the select stage's decision).
    baseline_params : mapping
        The ``baselines`` section (window, refit_every, min_obs, max_obs, fhs_residuals;
        read by :func:`~diffrisk.stages.baseline_settings.baseline_settings`).
    sampling : mapping
        ``sampler, n_steps, order, eta, spacing, noise`` of the ``generate`` section
        (``auto`` values resolved).
    n_scenarios : int
        Scenarios per day.
    n_paths : int
        Simulated paths (``simulate.n_paths``).
    splits : Splits
    seed : int

    Returns
    -------
    dict
        ``table`` (the summary, ``reports/tables/simulation.csv``), ``paths`` (every
        path, ``reports/tables/simulation_paths.csv``), ``params`` (the true parameters).
    """
    config, tuned = ddpm_config(ddpm, use_tuned)
    calendar = load_returns().index
    test_dates = splits.dates(pd.DataFrame(index=calendar), "test")
    settings = baseline_settings(baseline_params)
    runners = default_runners(**settings, n_scenarios=int(n_scenarios), seed=int(seed))

    def ddpm_runner(returns: pd.DataFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        model, _ = fit_ddpm(returns, splits, config, seed=int(seed), progress=False)
        frame, _ = forecast_ddpm(
            model,
            returns,
            dates,
            n_scenarios=int(n_scenarios),
            sampler=sampling["sampler"],
            n_steps=int(sampling["n_steps"]),
            order=int(sampling["order"]),
            eta=float(sampling["eta"]),
            spacing=sampling["spacing"],
            noise=sampling["noise"],
            seed=int(seed),
            progress=False,
        )
        return frame

    runners["ddpm"] = ddpm_runner
    params = DEFAULT_PARAMS
    per_path = run_simulation(
        runners, params, calendar, test_dates, seed=int(seed), n_paths=int(n_paths)
    )
    table = simulation_summary(per_path)
    save_simulation_table(table)
    write_csv_table(paths.tables_dir() / "simulation_paths.csv", per_path)
    io.write_parquet(paths.data_dir() / "simulation.parquet", table)
    caption = (
        f"**Table S1. Known-truth simulation.** Excess mean FZ0 of each method over the "
        f"true model's (the floor, 0 in expectation at best) on {int(n_paths)} independent "
        "simulated GARCH(1,1)-t paths with known parameters (one panel; one DDPM fitted "
        "on all paths): mean, standard deviation, minimum and maximum over paths; "
        "n_within_noise: paths where the excess is not significant (Diebold–Mariano "
        "p ≥ 0.05 against the true model); n_kupiec_pass: paths with Kupiec p ≥ 0.05. "
        "Every path: `simulation_paths.csv`.\n\n"
    )
    io.write_text(paths.tables_dir() / "simulation.md", caption + markdown_table(table))
    record = audit.provenance(
        {
            "true_params": asdict(params),
            "n_paths": int(n_paths),
            "path_seeds": [int(seed) + k for k in range(int(n_paths))],
            "ddpm": config.to_dict(),
            "tuned": tuned,
            "baselines": dict(baseline_params),
            "sampling": dict(sampling),
        },
        seed,
        audit.recorded_data_hash(),
    )
    audit.write_provenance(paths.data_dir() / "simulation.audit.json", record)
    return {"table": table, "paths": per_path, "params": asdict(params)}


def run(
    *,
    seed: int,
    n_scenarios: int,
    data: Mapping[str, Any],
    tune: Mapping[str, Any],
    ddpm: Mapping[str, Any],
    baselines: Mapping[str, Any],
    generate: Mapping[str, Any],
    simulate: Mapping[str, Any],
) -> dict[str, Any]:
    """Stage ``simulate``: :func:`simulate_known_truth` with its ``dvc.yaml`` parameters."""
    settings = sampler_settings(generate)
    return simulate_known_truth(
        ddpm=ddpm,
        use_tuned=tune["enabled"],
        baseline_params=baselines,
        sampling={k: settings[k] for k in SAMPLING_KEYS},
        n_scenarios=n_scenarios,
        n_paths=simulate["n_paths"],
        splits=Splits.from_mapping(data),
        seed=seed,
    )
