"""Tests of diffrisk.evaluation.multiplicity: chance failures and Holm verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.evaluation.multiplicity import (
    FAMILY_COLUMNS,
    HOLM_COLUMNS,
    battery_pvalues,
    chance_failures,
    family_summary,
    holm_table,
)


def _headline(p_by_method: dict[str, list[float]]) -> pd.DataFrame:
    """Headline rows of one series at two alphas: Kupiec and CC per alpha, PIT once.

    ``p_by_method[m]`` = [kupiec 5%, cc 5%, kupiec 1%, cc 1%, pit]; AS not run (NaN).
    """
    rows = []
    for method, p in p_by_method.items():
        for i, alpha in enumerate((0.05, 0.01)):
            rows.append(
                {
                    "series": "idx",
                    "alpha": alpha,
                    "method": method,
                    "kupiec_p": p[2 * i],
                    "christoffersen_cc_p": p[2 * i + 1],
                    "as_z2_p": math.nan,
                    "pit_ks_p": p[4],
                }
            )
    return pd.DataFrame(rows)


def test_holm_is_the_textbook_step_down():
    """p = (0.01, 0.04, 0.03, 0.005, 0.5), m = 5: sorted 0.005, 0.01, 0.03, 0.04, 0.5.

    Step down at 0.05: 0.005 <= 0.05/5 reject; 0.01 <= 0.05/4 reject; 0.03 > 0.05/3 stop.
    Adjusted: max over the running products (m - i + 1) p_(i): 0.025, 0.04, 0.09, 0.09, 0.5.
    """
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    table = holm_table(_headline({"m": p}))
    assert list(table.columns) == list(HOLM_COLUMNS)
    assert len(table) == 5  # AS (NaN) dropped, PIT counted once over the two alphas
    by_p = table.set_index("p")
    expected = {0.01: 0.04, 0.04: 0.09, 0.03: 0.09, 0.005: 0.025, 0.5: 0.5}
    for raw, adjusted in expected.items():
        assert by_p.loc[raw, "p_holm"] == pytest.approx(adjusted)
    assert by_p["reject_holm"].to_dict() == {
        0.01: True,
        0.04: False,
        0.03: False,
        0.005: True,
        0.5: False,
    }
    assert by_p["reject_raw"].to_dict() == {
        0.01: True,
        0.04: True,
        0.03: True,
        0.005: True,
        0.5: False,
    }


def test_each_method_is_its_own_family():
    table = holm_table(_headline({"a": [0.01, 0.9, 0.9, 0.9, 0.9], "b": [0.2, 0.3, 0.4, 0.6, 0.8]}))
    a = table[table.method == "a"].set_index("test")
    assert a.loc["kupiec"].iloc[0]["p_holm"] == pytest.approx(0.05)  # 5 tests x 0.01
    assert table.loc[table.method == "b", "p_holm"].min() == pytest.approx(1.0)  # 5 x 0.2


def test_expected_failures_are_level_times_tests():
    for n in (0, 1, 14, 40):
        chance = chance_failures(n)
        assert chance["expected"] == pytest.approx(0.05 * n)
        assert (chance["low"], chance["high"]) == stats.binom.interval(0.95, n, 0.05)
    assert chance_failures(40, level=0.01)["expected"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="level must be in"):
        chance_failures(3, level=1.5)


def test_family_summary_counts_and_names_holm_rejections():
    head = _headline({"a": [0.01, 0.04, 0.03, 0.005, 0.5], "b": [0.2, 0.3, 0.4, 0.6, 0.001]})
    summary = family_summary(head).set_index("method")
    assert list(summary.reset_index().columns) == list(FAMILY_COLUMNS)
    assert summary.loc["a", "n_tests"] == 5 and summary.loc["a", "n_rejected_raw"] == 4
    assert summary.loc["a", "expected_by_chance"] == pytest.approx(0.25)
    assert summary.loc["a", "n_rejected_holm"] == 2
    assert summary.loc["a", "rejected_holm"] == "kupiec (idx 5%); christoffersen_cc (idx 1%)"
    assert summary.loc["b", "rejected_holm"] == "pit_ks (idx)"
    # any method names, in headline order
    assert summary.index.tolist() == ["a", "b"]


def test_battery_counts_a_per_series_test_once():
    long = battery_pvalues(_headline({"m": [0.1, 0.2, 0.3, 0.4, 0.5]}))
    assert long["test"].tolist().count("pit_ks") == 1
    assert np.isnan(long.loc[long.test == "pit_ks", "alpha"]).all()
