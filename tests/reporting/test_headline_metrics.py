"""The headline metrics rows ``dvc metrics show`` prints."""

from __future__ import annotations

import json
import math

import pytest

from diffrisk.evaluation.paths.bootstrap import HEADLINE_METRICS
from diffrisk.reporting.headline_metrics import (
    alpha_label,
    backtest_rows,
    stress_rows,
    write_rows,
)

BACKTESTS = {
    "benchmark": "fhs",
    "primary_method": "ddpm",
    "idx": {
        "alpha_0.01": {
            "best_method": "ddpm",
            "fhs_fz0": -3.25,
            "primary_fz0": -3.5,
            "primary_kupiec_p": 0.37,
            "primary_n_exceptions": 13,
            "primary_dm_p": 0.9,
        },
        "alpha_0.05": {"best_method": "fhs", "fhs_fz0": -3.0, "primary_n_exceptions": 60},
    },
    "family_wise": {"n_tests": 4, "n_rejected_raw": 1},
}


def test_alpha_label():
    assert alpha_label(0.01) == "1%"
    assert alpha_label(0.05) == "5%"
    assert alpha_label(0.025) == "2.5%"


def test_backtest_rows_keep_the_four_headline_numbers():
    rows = backtest_rows(BACKTESTS)
    assert list(rows) == ["idx"]
    one = rows["idx"]["1%"]
    assert one["exc"] == 13
    assert one["kupiec"] == 0.37
    assert one["fz0"] == -3.5
    assert one["vs_fhs"] == pytest.approx(-3.5 - (-3.25))
    assert set(one) == {"exc", "kupiec", "fz0", "vs_fhs"}
    # what the primary method lacks is left out, not invented
    assert rows["idx"]["5%"] == {"exc": 60}


def test_stress_rows_diffusion_and_best_other():
    unconditional = {
        "diffusion": {"acf_abs_distance": 0.06, "corr_frobenius": 3.0, "tail_dep_q05": 0.08},
        "gan": {"acf_abs_distance": 0.05, "corr_frobenius": 4.0, "tail_dep_q05": math.nan},
        "vae": {"acf_abs_distance": 0.07, "corr_frobenius": 2.5, "tail_dep_q05": 0.09},
    }
    rows = stress_rows(unconditional, HEADLINE_METRICS)
    assert rows["diffusion"] == {"acf": 0.06, "corr": 3.0, "taildep": 0.08}
    # the lowest of the other generators per distance; NaN ignored
    assert rows["best_other"] == {"acf": 0.05, "corr": 2.5, "taildep": 0.09}


def test_write_rows_one_file_per_row_and_removes_stale(tmp_path):
    (tmp_path / "old_series.json").write_text("{}")
    written = write_rows(tmp_path, {"a": {"1%": {"fz0": -3.123456}}, "b": {"x": 1}})
    assert [p.name for p in written] == ["a.json", "b.json"]
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["a.json", "b.json"]
    assert json.loads((tmp_path / "a.json").read_text()) == {"1%": {"fz0": -3.123}}
