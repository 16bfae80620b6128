"""Tests of diffrisk.study.tuning_dask: Optuna trials as Dask tasks sharing one study."""

from __future__ import annotations

from dataclasses import replace

import optuna
import pandas as pd
import pytest

from diffrisk.study.tuning import WORKER_ATTR, finished_trials, run_study, trials_frame, worker_id
from diffrisk.study.tuning_dask import open_storage, run_study_on_dask, trial_shares
from tests.study.test_tuning import SETTINGS, SPACE, SPLITS, returns, tiny_base  # noqa: F401

BASE = tiny_base(window=24, scaling="ewma", lr=2e-3)


def test_trial_shares_are_even_and_add_up():
    assert trial_shares(7, 3) == [3, 2, 2]
    assert trial_shares(4, 2) == [2, 2]
    assert trial_shares(1, 4) == [1]
    assert trial_shares(0, 2) == []
    assert all(sum(trial_shares(n, w)) == n for n in range(12) for w in range(1, 5))


def test_open_storage_journal_file_or_url(tmp_path):
    storage = open_storage(f"journal:///{tmp_path}/sub/study.journal")
    assert isinstance(storage, optuna.storages.JournalStorage)
    optuna.create_study(study_name="x", storage=storage).optimize(lambda t: 1.0, n_trials=1)
    assert (tmp_path / "sub" / "study.journal").is_file()
    assert open_storage("postgresql://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ValueError, match="names no journal file"):
        open_storage("journal:")


def test_one_worker_is_run_study_in_process(returns, tmp_path):  # noqa: F811
    settings = replace(SETTINGS, n_trials=2)
    url = f"journal:{tmp_path / 'one.journal'}"
    study = run_study_on_dask(returns, SPLITS, BASE, 0, settings, url, "s", SPACE, workers=1)
    direct = run_study(
        returns, SPLITS, BASE, 0, settings, f"sqlite:///{tmp_path / 'ref.db'}", "s", SPACE
    )
    pd.testing.assert_frame_equal(trials_frame(study), trials_frame(direct), check_exact=True)
    assert {t.user_attrs[WORKER_ATTR] for t in study.trials} == {worker_id()}


def test_two_dask_workers_share_one_journal_study(returns, tmp_path, dask_cluster):  # noqa: F811
    k = 2
    url = f"journal:{tmp_path / 'shared.journal'}"
    settings = replace(SETTINGS, n_trials=2 * k)
    study = run_study_on_dask(
        returns, SPLITS, BASE, 0, settings, url, "s", SPACE, workers=2, scheduler=dask_cluster
    )
    trials = study.get_trials(deepcopy=False)
    assert finished_trials(study) == len(trials) == 2 * k
    assert sorted(t.number for t in trials) == list(range(2 * k))  # no duplicate numbers
    ran_by = [t.user_attrs[WORKER_ATTR] for t in trials]
    assert worker_id() not in ran_by  # every trial ran in a Dask worker process
    assert sorted(ran_by.count(w) for w in set(ran_by)) == [k, k]  # two workers, k each
    assert trials[0].params == {"lr": 2e-3, "window": 24, "scaling": "ewma"}  # enqueued once
    # the study is complete: a second call (the stage's rerun) adds nothing
    again = run_study_on_dask(
        returns, SPLITS, BASE, 0, settings, url, "s", SPACE, workers=2, scheduler=dask_cluster
    )
    assert len(again.trials) == 2 * k


def test_sqlite_is_refused_for_several_workers(returns, tmp_path):  # noqa: F811
    with pytest.raises(ValueError, match="SQLite cannot be shared by 2 workers"):
        run_study_on_dask(
            returns, SPLITS, BASE, 0, SETTINGS, f"sqlite:///{tmp_path}/x.db", "s", SPACE, workers=2
        )
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        run_study_on_dask(returns, SPLITS, BASE, 0, SETTINGS, "journal:x", "s", SPACE, workers=0)


@pytest.mark.slow
def test_a_real_scheduler_and_two_workers_share_one_study(returns, tmp_path, dask_processes):  # noqa: F811
    """`dask scheduler` + two `dask worker` processes: the same study shape as embedded."""
    address, _ = dask_processes
    url = f"journal:{tmp_path / 'cluster.journal'}"
    settings = replace(SETTINGS, n_trials=4)
    study = run_study_on_dask(
        returns, SPLITS, BASE, 0, settings, url, "s", SPACE, workers=2, scheduler=address
    )
    trials = study.get_trials(deepcopy=False)
    assert finished_trials(study) == 4 and sorted(t.number for t in trials) == [0, 1, 2, 3]
    ran_by = [t.user_attrs[WORKER_ATTR] for t in trials]
    assert worker_id() not in ran_by and len(set(ran_by)) == 2
