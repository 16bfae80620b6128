"""Stage ``tune``.

The Optuna study of the DDPM on the validation period. Writes ``models/best_params.yaml``,
``reports/tables/tune_trials.csv``, the tuning figures and ``reports/metrics/tune.json``.
``python -m diffrisk.stages.tune`` adds trials to a shared study from another worker.

:func:`run` takes the stage's parameter sections (as ``dvc.yaml`` declares them) and calls
the worker with explicit arguments.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
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
    seed: int,
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
        paths.metrics_dir() / "tune.json",
        {k: v for k, v in record.items() if k != "reason"},
        digits=4,
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
    """Stage ``tune``: :func:`tune_ddpm` with its ``dvc.yaml`` parameters."""
    return tune_ddpm(**tune, ddpm=ddpm, splits=Splits.from_mapping(data), seed=seed)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Add trials to a shared DDPM Optuna study.")
    parser.add_argument("--storage", required=True, help="Optuna storage URL")
    parser.add_argument("--study-name", default="", help="default: derived from the settings")
    parser.add_argument("--n-trials", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: add trials to a (shared) study using this checkout's params.yaml."""
    import yaml

    args = _parse_args(argv)
    params = yaml.safe_load(paths.params_file().read_text())

    splits = Splits.from_mapping(params["data"])
    base = replace(
        DDPMConfig.from_dict(params.get("ddpm", {})), **params.get("tune", {}).get("overrides", {})
    )
    returns = returns_until(load_returns(), splits, "validation")
    name = args.study_name or study_name_for(
        base, DEFAULT_SPACE, params["seed"], audit.frame_sha256(returns)
    )
    study = run_study(
        returns, splits, base, params["seed"], args.n_trials, args.timeout, args.storage, name
    )
    print(json.dumps(best_params_record(study), indent=2))


if __name__ == "__main__":
    main()
