"""Tests of diffrisk.evaluation.paths.request_tables: per-pair scores, labels, steering."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.request_tables import (
    IN_SAMPLE_REQUEST,
    pair_reference_label,
    signature_table,
    validation_rows,
)
from diffrisk.evaluation.paths.suite import summary_scores, validate_scenarios
from diffrisk.risk.portfolio import usable_tail_levels
from diffrisk.stress.archetypes import Archetype
from diffrisk.stress.signatures import stress_signature

COVID = ("2020-02-19", "2020-07-10")


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("2020-07-10", "2020-12-31", IN_SAMPLE_REQUEST),  # one shared day is enough
        ("2020-01-01", "2020-02-19", IN_SAMPLE_REQUEST),
        ("2020-07-13", "2020-12-31", "held out"),  # starts the next business day
        ("2019-01-01", "2020-02-18", "held out"),
    ],
)
def test_a_pair_is_in_sample_when_its_request_was_measured_on_the_window(first, last, expected):
    assert pair_reference_label(COVID, first, last, "held out") == expected
    assert pair_reference_label(None, first, last, "validation") == "validation"


def test_validation_rows_score_each_pair_as_the_suite_does(rng, thresholds):
    history = pd.DataFrame(rng.standard_t(5, size=(500, 3)) * 0.01, columns=["A", "B", "C"])
    calm, wild = history.iloc[:250], history.iloc[250:] * 3.0
    sets = {
        ("diffusion", "unconditional"): historical_paths(calm, horizon=20, step=5),
        ("normal", "unconditional"): rng.normal(0.0, 0.01, size=(40, 20, 3)),
    }
    references = {"calm": (calm, "in-sample"), "wild": (wild, "held out")}
    pairs = [
        ("diffusion", "unconditional", "calm"),
        ("normal", "unconditional", "calm"),
        ("diffusion", "unconditional", "wild"),
    ]
    rows = validation_rows(sets, references, pairs, thresholds)
    assert list(rows[["generator", "reference", "reference_label"]].itertuples(index=False)) == [
        ("diffusion", "calm", "in-sample"),
        ("normal", "calm", "in-sample"),
        ("diffusion", "wild", "held out"),
    ]
    assert rows["n_paths"].tolist() == [len(sets[p[:2]]) for p in pairs]
    assert rows["n_reference_days"].tolist() == [250, 250, 250]
    for row, (gen, arch, ref) in zip(rows.itertuples(index=False), pairs, strict=True):
        frame = references[ref][0]
        table = validate_scenarios(
            sets[(gen, arch)], frame, thresholds, tail_levels=usable_tail_levels(len(frame))
        )
        expected = summary_scores(table).iloc[0]
        for column, value in expected.items():
            assert getattr(row, column) == pytest.approx(value, nan_ok=True), column
    # the set resampled from the calm window is far from the window three times as wide
    assert rows.loc[0, "ks_mean"] < 0.1 < rows.loc[2, "ks_mean"]
    assert {"tail_dep_q05", "tail_dep_q01"} <= set(rows.columns)


def _set(paths: np.ndarray, vol: float, **generation) -> tuple[np.ndarray, dict]:
    meta = {
        "conditioning": {"portfolio_vol": [vol]},
        "generation": {"n_paths_per_date": len(paths), **generation},
        "out_of_range": ["avg_corr"],
    }
    return paths, meta


def test_signature_table_sets_what_each_set_achieved_against_the_request(rng):
    paths = rng.normal(-0.004, 0.02, size=(64, 20, 3))
    achieved = stress_signature(paths, np.full(64, 0.01))
    target = float(achieved["cum_return"].mean())
    request = Archetype("decline", {"cum_return": target * 1.05, "vol_ratio": 0.5})
    sets = {
        ("diffusion", "decline"): _set(paths, 0.01, guidance=2.5),
        ("gan", "decline"): _set(paths * 2.0, 0.01, conditioning_gain=1.5),
        ("normal", "decline"): _set(paths, 0.01),
    }
    table = signature_table(sets, [request], tolerance=0.10, generators=["gan", "diffusion"])
    assert list(zip(table["component"], table["generator"], strict=True)) == [
        ("cum_return", "gan"),
        ("cum_return", "diffusion"),
        ("vol_ratio", "gan"),
        ("vol_ratio", "diffusion"),
    ]  # the generators given, in their order; "normal" is left out
    row = table.set_index(["component", "generator"]).loc[("cum_return", "diffusion")]
    assert row["achieved_mean"] == pytest.approx(target)
    assert row["relative_error"] == pytest.approx(abs(target - 1.05 * target) / abs(1.05 * target))
    assert bool(row["within_tolerance"]) and row["guidance"] == 2.5
    assert not bool(row["out_of_range"])  # only avg_corr was flagged for these sets
    vol = table.set_index(["component", "generator"]).loc[("vol_ratio", "diffusion")]
    assert vol["achieved_mean"] == pytest.approx(float(achieved["vol_ratio"].mean()))
    assert not bool(vol["within_tolerance"])  # far from the requested 0.5
    assert table.set_index("generator").loc["gan", "guidance"].tolist() == [1.5, 1.5]
    default = signature_table(sets, [request])  # default generators: the headline three
    assert set(default["generator"]) == {"diffusion", "normal"}
    assert math.isnan(default.set_index("generator").loc["normal", "guidance"].iloc[0])
