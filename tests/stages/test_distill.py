"""Tests of diffrisk.stages.distill: the solver check (Table D3) and its parameter."""

from __future__ import annotations

import pytest

from diffrisk.ddpm.forecast import forecast_ddpm
from diffrisk.stages.distill import SOLVER_COLUMNS, parse_steps, solver_check, solver_counts
from tests.support.tiny_ddpm import tiny_teacher

#: The teacher's sampler in these tests (the smoke model's 200 diffusion steps, DDIM 5).
SAMPLER = {"sampler": "ddim", "n_steps": 5, "eta": 0.0, "spacing": "logsnr",
           "noise": "stratified", "order": 2}  # fmt: skip
SEEDS = [0, 1]


@pytest.fixture(scope="module")
def teacher():
    """A smoke-size model on two simulated series, its validation frame, 40 days, its runs."""
    model, returns, splits = tiny_teacher()
    frame = returns.loc[: splits["val_end"]]
    days = frame.index[frame.index >= splits["val_start"]][:40]
    runs = [forecast_ddpm(model, frame, days, n_scenarios=64, seed=s, **SAMPLER) for s in SEEDS]
    return model, frame, days, runs


def check(teacher, steps):
    model, frame, days, runs = teacher
    return solver_check(model, frame, days, runs, steps=steps, teacher_kw=SAMPLER,
                        n_scenarios=64, series=list(model.series), seeds=SEEDS,
                        bound_k=2.0)  # fmt: skip


def test_the_teachers_own_step_count_reproduces_it_and_a_finer_one_moves_the_figures(teacher):
    table = check(teacher, [5, 10])
    assert list(table.columns) == SOLVER_COLUMNS
    assert len(table) == 2 * 2 * 3 * 3  # step counts x series x alphas x (VaR, ES, FZ0)
    same = table[table["steps"] == 5]
    assert (same["diff"] == 0).all() and same["within"].all()  # same sampler, same seeds
    assert (same["bound"] > 0).all()  # the seeds' spread is the error
    finer = table[table["steps"] == 10]
    assert (finer["diff"] != 0).all()
    assert (finer["teacher"].to_numpy() == same["teacher"].to_numpy()).all()
    assert solver_counts(table).startswith("Within bound: 5 steps 18 of 18 figures, 10 steps ")


def test_no_step_counts_give_an_empty_table_that_says_so(teacher):
    table = check(teacher, [])
    assert table.empty and list(table.columns) == SOLVER_COLUMNS
    assert solver_counts(table) == 'Not run (`distill.solver_check: ""`).'


@pytest.mark.parametrize("value", ["0", "4.5", "-1", "forty", "40;80"])
def test_a_bad_step_list_is_named(value):
    with pytest.raises(ValueError, match=r"distill.solver_check must list DDIM step counts .*"):
        parse_steps(value, "distill.solver_check")


def test_step_lists_are_read_as_written():
    assert parse_steps("40, 80", "x") == [40, 80]
    assert parse_steps(40, "x") == [40]
    assert parse_steps(None, "x") == parse_steps("", "x") == []
