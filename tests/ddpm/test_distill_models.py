"""Tests of diffrisk.ddpm.distill_models: the split of every model and the Dask fan-out."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.ddpm.distill_models import distill_checkpoints, distill_split
from diffrisk.ddpm.fit import refit_ddpm
from tests.ddpm.test_distill import SMALL, distil_tiny, same_weights
from tests.ddpm.test_distill import tiny as tiny  # noqa: F401 - the shared fixture

REFERENCE = ("2014-12-31", "2015-01-01", "2018-12-31")


def test_the_split_moves_forward_to_the_models_fit_end():
    assert distill_split("2020-12-31", REFERENCE) == (
        pd.Timestamp("2016-12-31"), pd.Timestamp("2017-01-01"), pd.Timestamp("2020-12-31"),
    )  # fmt: skip
    # fitted through (or before) the reference's validation end: the reference itself
    for fit_end in ("2018-12-31", "2016-06-30"):
        assert distill_split(fit_end, REFERENCE) == tuple(pd.Timestamp(d) for d in REFERENCE)


def test_a_bad_reference_is_refused():
    with pytest.raises(ValueError, match=r"reference must be \(train_end, val_start, val_end\)"):
        distill_split("2020-12-31", REFERENCE[:2])
    with pytest.raises(ValueError, match="train_end < val_start <= val_end"):
        distill_split("2020-12-31", ("2015-01-01", "2015-01-01", "2018-12-31"))


@pytest.fixture(scope="module")
def teachers(tiny, tmp_path_factory):
    """The tiny teacher and its refit through 50 days after its validation end, saved."""
    model, returns, splits = tiny
    later = refit_ddpm(model, returns, returns.index[1049], epochs=1, seed=3)
    root = tmp_path_factory.mktemp("teachers")
    paths = [root / "v0.pt", root / "v1.pt"]
    model.save(paths[0])
    later.save(paths[1])
    return [model, later], paths


def _reference(splits):
    return (splits["train_end"], splits["val_start"], splits["val_end"])


def test_every_student_is_its_teachers_distillation_on_its_own_split(tiny, teachers, tmp_path):
    _, returns, splits = tiny
    models, paths = teachers
    students = distill_checkpoints(paths, [tmp_path / "s0.pt", tmp_path / "s1.pt"], returns,
                                   _reference(splits), SMALL, seed=1)  # fmt: skip
    for model, student in zip(models, students, strict=True):
        split = distill_split(model.fit_end, _reference(splits))
        direct = distil_tiny(model, returns, dict(zip(splits, split, strict=True)))
        assert same_weights(student, direct)
        assert student.teacher["fit_end"] == str(model.fit_end)
    # the refit's split ends at its own fit_end: 50 trading days later than the reference
    assert distill_split(models[1].fit_end, _reference(splits))[2] == returns.index[1049]
    assert not same_weights(*students)


def test_no_student_sees_a_day_after_its_split(tiny, teachers, tmp_path):
    _, returns, splits = tiny
    _, paths = teachers
    base = distill_checkpoints(paths[1:], [tmp_path / "a.pt"], returns, _reference(splits),
                               SMALL, seed=1)  # fmt: skip
    moved = returns.copy()
    moved.loc[moved.index > returns.index[1049]] *= 5.0
    again = distill_checkpoints(paths[1:], [tmp_path / "b.pt"], moved, _reference(splits),
                                SMALL, seed=1)  # fmt: skip
    assert same_weights(base[0], again[0])


def test_dask_workers_give_the_same_students(tiny, teachers, tmp_path, dask_cluster):
    _, returns, splits = tiny
    _, paths = teachers
    outs = [[tmp_path / f"{w}_{k}.pt" for k in range(2)] for w in (1, 2)]
    serial, parallel = (
        distill_checkpoints(
            paths, out, returns, _reference(splits), SMALL, seed=1, workers=w, scheduler=address
        )
        for w, address, out in zip((1, 2), (None, dask_cluster), outs, strict=True)
    )
    for a, b in zip(serial, parallel, strict=True):
        assert same_weights(a, b)


def test_one_student_path_per_teacher(tiny, teachers, tmp_path):
    _, returns, splits = tiny
    _, paths = teachers
    with pytest.raises(ValueError, match="one student path per teacher, got 2 teachers and 1"):
        distill_checkpoints(paths, [tmp_path / "s.pt"], returns, _reference(splits), SMALL,
                            seed=1)  # fmt: skip
    assert distill_checkpoints([], [], returns, _reference(splits), SMALL, seed=1) == []
