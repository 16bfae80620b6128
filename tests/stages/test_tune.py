import json
import os
import socket
import subprocess
import sys

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from diffrisk.core import paths
from diffrisk.core.compute import SCHEDULER_ENV
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.stages.tune import parse_args, run, study_setup, tune_ddpm
from diffrisk.study.tuning import WORKER_ATTR, best_params_record, finished_trials

DATA = {
    "train_end": "2012-12-31",
    "val_start": "2013-01-01",
    "val_end": "2013-06-28",
    "test_start": "2013-07-01",
    "test_end": "",
    "select_end": "2013-03-29",
}
SPLITS = Splits.from_mapping(DATA)
#: A small study on tiny data: successive halving with factor 2 on 2 epochs.
TUNE = {
    "enabled": True,
    "n_trials": 3,
    "n_startup_trials": 1,
    "min_resource": 1,
    "reduction_factor": 2,
    "timeout": 0,
    "storage": "",
    "overrides": {"max_epochs": 2, "patience": 9, "samples_per_epoch": 512, "val_scenarios": 16},
}
DDPM = DDPMConfig.smoke().to_dict()
SEED = 5


def tiny_returns() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2011-01-03", "2013-09-30", name="date")
    sigma = 0.01 * np.exp(np.cumsum(rng.normal(0, 0.05, len(dates))) * 0.3)
    data = rng.standard_t(5, size=(len(dates), 2)) * sigma[:, None]
    return pd.DataFrame(data, index=dates, columns=["portfolio", "sp500"])


def write_returns(frame: pd.DataFrame) -> None:
    paths.returns_file().parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(paths.returns_file())


@pytest.fixture
def project(project_tmp):
    """A temporary project with tiny returns and a params.yaml for the tune stage."""
    write_returns(tiny_returns())
    params = {"seed": SEED, "data": DATA, "tune": TUNE, "ddpm": DDPM}
    (project_tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project_tmp


def setup_for(**tune):
    values = {k: v for k, v in {**TUNE, **tune}.items() if k not in ("enabled", "storage")}
    return study_setup(**values, ddpm=DDPM, splits=SPLITS, seed=SEED)


def test_stage_writes_the_best_trial_of_the_study(project):
    out = run(seed=SEED, data=DATA, tune=TUNE, ddpm=DDPM)
    record = yaml.safe_load(paths.best_params_file().read_text())
    assert record == out["record"]
    study = optuna.load_study(
        study_name=record["study_name"], storage=f"sqlite:///{paths.models_dir() / 'optuna.db'}"
    )
    assert finished_trials(study) == TUNE["n_trials"]
    assert record["best_params"] == study.best_params
    assert (
        record["best_value"] == study.best_value and record["best_trial"] == study.best_trial.number
    )
    assert record["selected_on"] == "2013-01-01..2013-03-29"
    trials = pd.read_csv(paths.tables_dir() / "tune_trials.csv")
    assert list(trials["number"]) == [0, 1, 2]
    assert set(trials["state"]) <= {"COMPLETE", "PRUNED"}
    assert (trials["state"] == "COMPLETE").sum() == record["n_complete"]
    for stem in ("tune_history", "tune_importance"):
        assert (paths.figures_dir() / f"{stem}.png").is_file()
    # the committed metrics hold the numbers only: the study name (a hash of the code) stays
    # in models/best_params.yaml, so a code change that moves no number leaves it unchanged
    metrics = json.loads((paths.metrics_dir() / "tune.json").read_text())
    assert set(metrics) == set(record) - {"study_name"}  # written with 4 significant digits
    assert metrics["best_trial"] == record["best_trial"]
    assert metrics["best_value"] == pytest.approx(record["best_value"], rel=1e-3)
    # the default storage resumes: a second run reads the same study back, adds nothing
    assert run(seed=SEED, data=DATA, tune=TUNE, ddpm=DDPM)["record"] == record


def test_disabled_stage_records_untuned(project):
    out = run(seed=SEED, data=DATA, tune={**TUNE, "enabled": False}, ddpm=DDPM)
    assert yaml.safe_load(paths.best_params_file().read_text()) == out["record"]
    assert out["record"]["tuned"] is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_trials": 0}, "tune.n_trials must be an integer >= 1"),
        ({"reduction_factor": 1}, "tune.reduction_factor must be an integer >= 2"),
        ({"min_resource": 0}, "tune.min_resource must be an integer >= 1"),
        ({"n_startup_trials": -2}, "tune.n_startup_trials must be an integer >= 0"),
        ({"timeout": -5}, "tune.timeout must be > 0"),
        ({"overrides": {"max_epoch": 3}}, r"unknown DDPMConfig keys \['max_epoch'\]"),
        ({"min_resource": 3}, r"tune.min_resource \(3\) must be <= the tuning max_epochs"),
    ],
)
def test_bad_parameters_raise_naming_them(project, change, message):
    with pytest.raises(ValueError, match=message):
        run(seed=SEED, data=DATA, tune={**TUNE, **change}, ddpm=DDPM)


def test_study_setup_sees_only_the_inner_validation(project):
    """Nested validation: returns after data.select_end do not reach the study at all."""
    reference = setup_for()
    assert reference.returns.index.max() == pd.Timestamp("2013-03-29")
    assert reference.base.max_epochs == 2 and reference.base.samples_per_epoch == 512
    frame = tiny_returns()
    late = frame.index > SPLITS.select_end
    frame.loc[late] *= 7.0
    write_returns(frame)
    assert setup_for().study_name == reference.study_name
    inner = (frame.index >= SPLITS.val_start) & ~late
    frame.loc[inner] *= 7.0
    write_returns(frame)
    assert setup_for().study_name != reference.study_name
    assert setup_for(n_trials=99).study_name != reference.study_name  # different data
    write_returns(tiny_returns())
    assert setup_for(n_trials=99).study_name == reference.study_name  # budget: same study


def test_worker_command_line():
    args = parse_args(["--storage", "sqlite:///x.db", "--n-trials", "4"])
    assert (args.storage, args.n_trials, args.timeout, args.study_name) == (
        "sqlite:///x.db",
        4,
        None,
        "",
    )
    with pytest.raises(SystemExit):
        parse_args([])


def test_two_workers_share_one_postgres_study(project, postgres_url):
    """Two worker processes on one PostgreSQL study; the stage reads the best trial back."""
    env = {**os.environ, "DIFFRISK_ROOT": str(project), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "diffrisk.stages.tune", "--storage", postgres_url]
    workers = [
        subprocess.Popen(
            [*cmd, "--n-trials", "2"], cwd=project, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    # a guard against a hung worker, not a speed claim (speed is measured in benchmarks/)
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    name = setup_for().study_name
    study = optuna.load_study(study_name=name, storage=postgres_url)
    assert finished_trials(study) == len(study.trials) == 4
    host = socket.gethostname()
    assert {t.user_attrs[WORKER_ATTR] for t in study.trials} == {f"{host}:{w.pid}" for w in workers}
    # the stage with the shared storage adds nothing (4 >= n_trials) and reads the best back
    out = tune_ddpm(**{**TUNE, "storage": postgres_url}, ddpm=DDPM, splits=SPLITS, seed=SEED)
    record = yaml.safe_load(paths.best_params_file().read_text())
    assert (
        record
        == out["record"]
        == best_params_record(study) | {"selected_on": "2013-01-01..2013-03-29"}
    )
    assert record["study_name"] == name and record["best_params"] == study.best_params
    assert len(optuna.load_study(study_name=name, storage=postgres_url).trials) == 4


def test_val_series_follows_data_series_on_a_one_column_file(project):
    """A one-column file: ``overrides.val_series: null`` scores data.series; no hard-coding."""
    write_returns(tiny_returns()[["sp500"]].rename(columns={"sp500": "MYINDEX"}))
    setup = study_setup(
        **{k: v for k, v in TUNE.items() if k not in ("enabled", "storage", "overrides")},
        overrides={**TUNE["overrides"], "val_series": None},
        ddpm=DDPM,
        splits=SPLITS,
        seed=SEED,
        headline="MYINDEX",
    )
    assert setup.base.val_series == ("MYINDEX",)


def test_unknown_val_series_stops_before_any_trial(project):
    write_returns(tiny_returns()[["sp500"]].rename(columns={"sp500": "MYINDEX"}))
    tune = {**TUNE, "overrides": {**TUNE["overrides"], "val_series": ["portfolio", "sp500"]}}
    with pytest.raises(ValueError, match=r"tune.overrides.val_series names unknown series"):
        run(seed=SEED, data={**DATA, "series": "MYINDEX"}, tune=tune, ddpm=DDPM)
    assert not paths.best_params_file().exists()


def test_stage_on_two_dask_workers_fills_one_journal_study(project, dask_cluster, monkeypatch):
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster)  # the stage's tasks go to the cluster
    out = run(seed=SEED, data=DATA, tune={**TUNE, "n_trials": 4, "workers": 2}, ddpm=DDPM)
    journal = paths.models_dir() / "optuna.journal"
    assert journal.is_file() and not (paths.models_dir() / "optuna.db").exists()
    study = optuna.load_study(
        study_name=out["record"]["study_name"],
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(journal))
        ),
    )
    assert finished_trials(study) == 4
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    assert len({t.user_attrs[WORKER_ATTR] for t in study.trials}) == 2
    assert out["record"]["best_params"] == study.best_params
    assert list(pd.read_csv(paths.tables_dir() / "tune_trials.csv")["number"]) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="tune.workers must be an integer >= 1, got 0"):
        run(seed=SEED, data=DATA, tune={**TUNE, "workers": 0}, ddpm=DDPM)
