"""Stage `tune`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from diffrisk.core import audit, io, paths
from diffrisk.core.tables import write_csv_table
from diffrisk.data.returns import load_returns, returns_until
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.reporting.style import save_figure, set_style
from diffrisk.reporting.tuning_figures import draw_tune_history, draw_tune_importance
from diffrisk.study.tuning import (
    DEFAULT_SPACE,
    best_params_record,
    run_study,
    study_name_for,
    trials_frame,
)


def tune_ddpm(
    *,
    enabled: bool,
    n_trials: int,
    timeout: float,
    storage: str,
    overrides: Mapping[str, Any],
    ddpm: Mapping[str, Any],
    splits: Splits,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``tune`` stage: an Optuna study on the validation period.

    Parameters
    ----------
    enabled : bool
        ``tune.enabled``; when off, ``models/best_params.yaml`` records ``tuned: false``
        and the train stage uses ``params.yaml`` as is.
    n_trials : int
        Finished trials the study should have.
    timeout : float
        Seconds after which no new trial starts (0 = none).
    storage : str
        Optuna storage URL; "" = SQLite ``models/optuna.db`` (an interrupted study resumes).
    overrides : mapping
        DDPMConfig fields fixed for tuning only (e.g. fewer epochs).
    ddpm : mapping
        The ``ddpm`` section (the values not searched).
    splits : Splits
    seed : int

    Returns
    -------
    dict
        ``record`` (what was written to best_params.yaml), ``trials`` (DataFrame).
    """
    from dataclasses import replace

    import matplotlib.pyplot as plt
    import yaml

    returns = returns_until(load_returns(), splits, "validation")
    trials = pd.DataFrame(columns=["number", "state", "value"])
    if enabled:
        base = replace(DDPMConfig.from_dict(dict(ddpm)), **dict(overrides))
        url = storage or f"sqlite:///{paths.models_dir() / 'optuna.db'}"
        paths.models_dir().mkdir(parents=True, exist_ok=True)
        name = study_name_for(base, DEFAULT_SPACE, seed, audit.frame_sha256(returns))
        study = run_study(
            returns, splits, base, int(seed), int(n_trials), float(timeout) or None, url, name
        )
        record = best_params_record(study)
        trials = trials_frame(study)
    else:
        record = {"tuned": False, "reason": "tune.enabled is false: train uses params.yaml"}
    io.write_text(paths.best_params_file(), yaml.safe_dump(record, sort_keys=True))
    write_csv_table(paths.tables_dir() / "tune_trials.csv", trials)
    io.write_json(
        paths.metrics_dir() / "tune.json", {k: v for k, v in record.items() if k != "reason"}
    )
    set_style()
    for stem, draw in (
        ("tune_history", draw_tune_history),
        ("tune_importance", draw_tune_importance),
    ):
        fig = draw(trials, seed)
        save_figure(fig, stem)
        plt.close(fig)
    return {"record": record, "trials": trials}


def run(
    *, seed: int, data: Mapping[str, Any], tune: Mapping[str, Any], ddpm: Mapping[str, Any]
) -> dict[str, Any]:
    """Entry point of the ``tune`` stage: read its parameters, call :func:`tune_ddpm`.

    Parameters
    ----------
    seed : int
        the study's seed
    data : mapping
        the ``data`` section of ``params.yaml`` (the keys ``dvc.yaml`` declares)
    tune : mapping
        the ``tune`` section of ``params.yaml`` (the keys ``dvc.yaml`` declares)
    ddpm : mapping
        the ``ddpm`` section of ``params.yaml`` (the keys ``dvc.yaml`` declares)

    Returns
    -------
    dict
        What :func:`tune_ddpm` returns.
    """
    return tune_ddpm(
        enabled=tune["enabled"],
        n_trials=tune["n_trials"],
        timeout=tune["timeout"],
        storage=tune["storage"],
        overrides=tune["overrides"],
        ddpm=ddpm,
        splits=Splits.from_mapping(data),
        seed=seed,
    )
