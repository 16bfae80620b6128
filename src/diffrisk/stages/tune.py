"""Stage ``tune``.

The Optuna study of the DDPM on the inner validation period (``data.val_start …
data.select_end``, nested validation). Writes ``models/best_params.yaml``,
``reports/tables/tune_trials.csv``, the tuning figures and ``reports/metrics/tune.json``.

``python -m diffrisk.stages.tune --storage URL`` is a worker of a shared study: it adds
trials to the study the stage would run with this checkout's ``params.yaml`` (same study
name), so several of them, on one or many machines, share the work; the stage run
afterwards with ``tune.storage`` set to the same URL reads the best trial back.
"""

from __future__ import annotations

import argparse
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from diffrisk.core import audit, io, paths
from diffrisk.core.checks import check_int
from diffrisk.core.tables import write_csv_table
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.reporting.style import save_figure, set_style
from diffrisk.reporting.tuning_figures import (
    draw_tune_history,
    draw_tune_importance,
    tune_plot_data,
)
from diffrisk.stages.common import checked_returns
from diffrisk.study.tuning import (
    DEFAULT_SPACE,
    TRIAL_CODE,
    TuneSettings,
    best_params_record,
    finished_trials,
    run_study,
    selection_data,
    study_name_for,
    trials_frame,
    worker_id,
)
from diffrisk.study.tuning_dask import open_storage, run_study_on_dask

#: Keys of the tuning record that ``reports/metrics/tune.json`` leaves out (they stay in
#: ``models/best_params.yaml``): the study name hashes the code, so it changes whenever
#: the code does although no number moves; the reason is text.
METRICS_LEFT_OUT = ("reason", "study_name")


@dataclass(frozen=True)
class StudySetup:
    """Everything a study run needs, derived from the stage's parameters.

    Attributes
    ----------
    returns : DataFrame
        The returns tuning may see (cut at ``data.select_end``).
    base : DDPMConfig
        The ``ddpm`` section with the tuning ``overrides`` (the reduced fidelity).
    settings : TuneSettings
    study_name : str
        Derived from ``base``, the search space, the seed, ``returns`` and the search
        settings: the stage and every worker of the same checkout agree on it.
    """

    returns: pd.DataFrame
    base: DDPMConfig
    settings: TuneSettings
    study_name: str


def study_setup(
    *,
    n_trials: int,
    n_startup_trials: int,
    min_resource: int,
    reduction_factor: int,
    timeout: float,
    overrides: Mapping[str, Any],
    ddpm: Mapping[str, Any],
    splits: Splits,
    seed: int,
    headline: str | Sequence[str] | None = None,
) -> StudySetup:
    """Validate the tuning parameters and derive the study (see :class:`StudySetup`).

    ``overrides.val_series: null`` (or absent) scores the headline series
    (``data.series``, passed as ``headline``), so the study follows the user's data; an
    explicit list, ``ddpm.train_series`` / ``ddpm.val_series`` and ``data.series`` are
    checked against the data's series before any trial
    (:func:`diffrisk.stages.common.check_series_params`).

    Raises
    ------
    ValueError
        Naming the parameter, for a bad ``tune.*`` value, an unknown override key or a
        series the data does not have.
    """
    settings = TuneSettings(
        n_trials=n_trials,
        n_startup_trials=n_startup_trials,
        min_resource=min_resource,
        reduction_factor=reduction_factor,
        timeout=float(timeout) or None,
    )
    overrides = dict(overrides)
    if overrides.get("val_series") is None and headline is not None:
        overrides["val_series"] = headline
    everything, checked = checked_returns(
        headline, ddpm, {"tune.overrides.val_series": overrides.get("val_series")}
    )
    if checked["tune.overrides.val_series"] is not None:
        overrides["val_series"] = checked["tune.overrides.val_series"]
    base = DDPMConfig.from_dict({**dict(ddpm), **overrides})
    returns, _ = selection_data(everything, splits)
    code = audit.source_sha256(TRIAL_CODE)
    name = study_name_for(base, DEFAULT_SPACE, seed, audit.frame_sha256(returns), settings, code)
    return StudySetup(returns=returns, base=base, settings=settings, study_name=name)


def tune_ddpm(
    *,
    enabled: bool,
    n_trials: int,
    n_startup_trials: int,
    min_resource: int,
    reduction_factor: int,
    timeout: float,
    storage: str,
    overrides: Mapping[str, Any],
    ddpm: Mapping[str, Any],
    splits: Splits,
    seed: int,
    headline: str | Sequence[str] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Run the ``tune`` stage: an Optuna study on the inner validation period.

    Parameters
    ----------
    enabled : bool
        ``tune.enabled``; when off, ``models/best_params.yaml`` records ``tuned: false``
        and the train stage uses ``params.yaml`` as is.
    n_trials : int
        Configurations the study should have considered (finished trials, >= 1).
    n_startup_trials : int
        Random trials before TPE proposes.
    min_resource, reduction_factor : int
        Successive halving: first rung after ``min_resource`` epochs; each rung keeps the
        best ``1 / reduction_factor`` (>= 2) of the trials.
    timeout : float
        Seconds after which no new trial starts (0 = none).
    storage : str
        Optuna storage URL, or ``journal:<path>`` (a journal file,
        :func:`diffrisk.study.tuning_dask.open_storage`); "" = SQLite
        ``models/optuna.db`` (an interrupted study resumes; a finished one, e.g. filled by
        workers, is read back without new trials).
    overrides : mapping
        DDPMConfig fields fixed for tuning only (the reduced fidelity); ``val_series:
        null`` scores the ``headline`` series.
    ddpm : mapping
        The ``ddpm`` section (the values not searched).
    splits : Splits
        Needs ``select_end``: trials fit and score on ``splits.rehearsal()``.
    seed : int
    headline : str or sequence of str, optional
        ``data.series`` (comma-separated): checked against the data, and the default of
        ``overrides.val_series``.
    workers : int, default 1
        ``tune.workers``: 1 runs the trials in this process (deterministic given the
        seed). N > 1 runs them as N Dask tasks sharing one study
        (:func:`diffrisk.study.tuning_dask.run_study_on_dask`; not deterministic: trials
        interleave by timing); the storage is then ``storage``, or with "" the journal
        file ``models/optuna.journal`` (SQLite takes one writer at a time).

    Returns
    -------
    dict
        ``record`` (what was written to best_params.yaml), ``trials`` (DataFrame).
    """
    import matplotlib.pyplot as plt
    import yaml

    trials = pd.DataFrame(columns=["number", "state", "value"])
    workers = check_int(workers, "tune.workers", 1)
    if enabled:
        setup = study_setup(
            n_trials=n_trials,
            n_startup_trials=n_startup_trials,
            min_resource=min_resource,
            reduction_factor=reduction_factor,
            timeout=timeout,
            overrides=overrides,
            ddpm=ddpm,
            splits=splits,
            seed=seed,
            headline=headline,
        )
        paths.models_dir().mkdir(parents=True, exist_ok=True)
        # one worker: the SQLite file of models/ (in this process); several: a journal file
        models = paths.models_dir()
        default = (
            f"sqlite:///{models / 'optuna.db'}"
            if workers == 1
            else f"journal:{models / 'optuna.journal'}"
        )
        study = run_study_on_dask(
            setup.returns,
            splits,
            setup.base,
            int(seed),
            setup.settings,
            storage or default,
            setup.study_name,
            workers=workers,
        )
        record = {
            **best_params_record(study),
            "selected_on": f"{splits.val_start.date()}..{splits.rehearsal().val_end.date()}",
        }
        trials = trials_frame(study)
    else:
        record = {"tuned": False, "reason": "tune.enabled is false: train uses params.yaml"}
    io.write_text(paths.best_params_file(), yaml.safe_dump(record, sort_keys=True))
    write_csv_table(paths.tables_dir() / "tune_trials.csv", trials)
    write_csv_table(paths.plots_dir() / "tune_trials.csv", tune_plot_data(trials))
    io.write_json(
        paths.metrics_dir() / "tune.json",
        {k: v for k, v in record.items() if k not in METRICS_LEFT_OUT},
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
    return tune_ddpm(
        **tune,
        ddpm=ddpm,
        splits=Splits.from_mapping(data),
        seed=seed,
        headline=data.get("series"),
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The worker's command line (see :func:`main`)."""
    parser = argparse.ArgumentParser(
        description="Add trials to a shared DDPM Optuna study (one process per worker)."
    )
    parser.add_argument(
        "--storage", required=True, help="Optuna storage URL (PostgreSQL) or journal:<path>"
    )
    parser.add_argument("--study-name", default="", help="default: derived from params.yaml")
    parser.add_argument(
        "--n-trials", type=int, default=None, help="trials this worker adds (tune.n_trials)"
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds (tune.timeout)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: add trials to a (shared) study using this checkout's params.yaml.

    Every worker adds ``--n-trials`` trials (default ``tune.n_trials``) to the study the
    ``tune`` stage would run, records ``host:pid`` on each trial and prints the study's
    counts (and best trial, once one is complete) as JSON. Each worker seeds its sampler
    from the seed and its ``host:pid``, so workers do not repeat each other's random
    start-up trials; the result of a multi-worker study is not deterministic.
    """
    import yaml

    args = parse_args(argv)
    params = yaml.safe_load(paths.params_file().read_text())
    tune = dict(params.get("tune", {}))
    seed = int(params["seed"])
    splits = Splits.from_mapping(params["data"])
    setup = study_setup(
        n_trials=int(tune["n_trials"] if args.n_trials is None else args.n_trials),
        n_startup_trials=tune["n_startup_trials"],
        min_resource=tune["min_resource"],
        reduction_factor=tune["reduction_factor"],
        timeout=tune.get("timeout", 0) if args.timeout is None else args.timeout,
        overrides=tune.get("overrides", {}),
        ddpm=params.get("ddpm", {}),
        splits=splits,
        seed=seed,
        headline=params["data"].get("series"),
    )
    study = run_study(
        setup.returns,
        splits,
        setup.base,
        seed,
        setup.settings,
        open_storage(args.storage),
        args.study_name or setup.study_name,
        add=True,
        sampler_seed=seed + zlib.crc32(worker_id().encode()),
    )
    try:
        out = best_params_record(study)
    except RuntimeError:
        out = {"tuned": False, "study_name": study.study_name}
    out["n_finished"] = finished_trials(study)
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
