"""The audit's request plan: order, seeds and attacked dates of every request."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.evaluation.stress_audit_tasks import audit_plan


@pytest.fixture
def plan():
    dates = {
        "validation": list(pd.bdate_range("2016-01-04", periods=2)),
        "test": list(pd.bdate_range("2020-01-06", periods=3)),
    }
    generation = {"a": (1.5, {"n_steps": 4}), "b": (2.0, {"n_steps": 8})}
    signatures = {"a": {"vol_ratio": 2.0}, "b": {"drawdown": -0.15}}
    return audit_plan(["a", "b"], signatures, generation, dates, 1, seed=100), dates


def test_plan_runs_archetype_by_split_by_date(plan):
    requests, dates = plan
    expected = [(name, split, d) for name in ("a", "b") for split, ds in dates.items() for d in ds]
    assert [(r.archetype, r.split, r.as_of) for r in requests] == expected
    assert {r.guidance for r in requests if r.archetype == "b"} == {2.0}
    assert requests[0].sampling == {"n_steps": 4} and requests[-1].signature == {"drawdown": -0.15}


def test_seeds_and_attacked_dates_follow_the_archetype_index(plan):
    requests, _ = plan
    # request j of archetype i: seed + 7919 (i + 1) + j; j restarts in each split
    assert [r.seed for r in requests] == [
        100 + 7919 * i + j for i in (1, 2) for j in (0, 1, 0, 1, 2)
    ]
    # archetype i attacks test date i (one attacked date each, never a validation date)
    attacked = [(r.archetype, r.as_of) for r in requests if r.attacked]
    test = pd.bdate_range("2020-01-06", periods=3)
    assert attacked == [("a", test[0]), ("b", test[1])]
