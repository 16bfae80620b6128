"""Tests of diffrisk.evaluation.paths.segments: segment coverage of the tails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.segments import (
    SEGMENT_COLUMNS,
    SKFOLIO_SECTORS,
    segment_summary,
    segment_tail_table,
    segment_weights,
    variant_tables,
)
from diffrisk.risk.measures import cvar, var
from diffrisk.risk.portfolio import portfolio_log_returns

ASSETS = ["AAPL", "MSFT", "JPM", "BAC", "XOM"]
SECTORS = "tech=AAPL,MSFT; banks=JPM,BAC; energy=XOM"
H = 5


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    z = rng.standard_t(4, size=(600, len(ASSETS))) + 0.5 * rng.standard_normal((600, 1))
    return pd.DataFrame(0.01 * z, columns=ASSETS)


def test_generated_equal_to_held_out_has_zero_error(reference):
    table = segment_tail_table(
        historical_paths(reference, H), reference, ASSETS, SECTORS, daily=False
    )
    assert list(table.columns) == list(SEGMENT_COLUMNS)
    # five constituents, two sectors of two (energy has one member: it is XOM)
    assert table["segment"].tolist() == [*ASSETS, "tech", "banks"]
    assert table["kind"].tolist() == ["constituent"] * 5 + ["sector"] * 2
    np.testing.assert_allclose(table["es_rel_error"], 0.0, atol=1e-12)
    np.testing.assert_allclose(table["var_rel_error"], 0.0, atol=1e-12)
    assert (table["horizon"] == H).all() and (table["alpha"] == 0.05).all()


def test_a_segment_scaled_twice_has_es_error_one(reference):
    gen = historical_paths(reference, H).copy()
    gen *= 1.1
    gen[:, :, 2] *= 2.0 / 1.1  # JPM doubled, every other constituent +10 %
    table = segment_tail_table(gen, reference, ASSETS, "")
    h_rows = table[table["horizon"] == H].set_index("segment")
    np.testing.assert_allclose(h_rows.loc["JPM", "es_rel_error"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(h_rows.loc["JPM", "var_rel_error"], 1.0, rtol=1e-12)
    others = h_rows.drop("JPM")["es_rel_error"]
    np.testing.assert_allclose(others, 0.1, rtol=1e-9)
    assert h_rows["worst"].sum() == 1 and h_rows.loc["JPM", "worst"]
    np.testing.assert_allclose(h_rows.loc["JPM", "ratio_to_median"], 10.0, rtol=1e-9)
    summary = segment_summary(table)
    row = summary[summary["horizon"] == H].iloc[0]
    assert row["worst_segment"] == "JPM" and row["worst_kind"] == "constituent"
    assert row["max_over_median"] == pytest.approx(10.0)
    assert row["n_above_goal"] == 1 and not row["goal_met"]
    assert row["n_segments"] == 5


def test_values_are_the_risk_measures_of_the_segment_returns(reference):
    rng = np.random.default_rng(1)
    gen = 0.012 * rng.standard_normal((400, H, len(ASSETS)))
    table = segment_tail_table(gen, reference, ASSETS, SECTORS, alpha=0.1)
    w = np.array([0.5, 0.5, 0, 0, 0])
    gen_h = portfolio_log_returns(gen, w).sum(axis=1)
    ref_h = portfolio_log_returns(historical_paths(reference, H), w).sum(axis=1)
    tech = table[(table["segment"] == "tech") & (table["horizon"] == H)].iloc[0]
    assert tech["var_generated"] == pytest.approx(var(gen_h, 0.1))
    assert tech["es_generated"] == pytest.approx(cvar(gen_h, 0.1))
    assert tech["es_reference"] == pytest.approx(cvar(ref_h, 0.1))
    assert tech["es_rel_error"] == pytest.approx(
        abs(cvar(gen_h, 0.1) - cvar(ref_h, 0.1)) / abs(cvar(ref_h, 0.1))
    )
    daily = table[(table["segment"] == "XOM") & (table["horizon"] == 1)].iloc[0]
    assert daily["es_generated"] == pytest.approx(cvar(gen[:, :, 4].ravel(), 0.1))
    assert daily["es_reference"] == pytest.approx(cvar(reference["XOM"].to_numpy(), 0.1))
    assert table["horizon"].tolist()[:7] == [H] * 7 and set(table["horizon"]) == {1, H}


def test_goal_is_met_when_no_error_exceeds_twice_the_median(reference):
    gen = historical_paths(reference, H) * np.array([1.1, 1.2, 1.15, 1.1, 1.28])
    summary = segment_summary(segment_tail_table(gen, reference, ASSETS, "", daily=False))
    row = summary.iloc[0]
    assert row["goal_met"] and row["max_over_median"] <= 2.0
    assert row["worst_segment"] == "XOM" and row["n_above_goal"] == 0


def test_unknown_ticker_in_the_sector_map_is_named(reference):
    gen = historical_paths(reference, H)
    with pytest.raises(ValueError, match=r"\['NVDA'\] that are not among the constituents"):
        segment_tail_table(gen, reference, ASSETS, "tech=AAPL,NVDA")
    with pytest.raises(ValueError, match="sector name 'XOM' is also a ticker"):
        segment_weights(ASSETS, "XOM=JPM,BAC")
    with pytest.raises(ValueError, match="mismatched assets"):
        segment_tail_table(gen, reference, ASSETS[:4], "")


def test_default_sector_map_covers_the_skfolio_constituents():
    tickers = "AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT PEP PFE PG RRC UNH WMT XOM"
    segments = segment_weights(tickers.split(), SKFOLIO_SECTORS)
    sectors = [s for s in segments if s[1] == "sector"]
    assert [s[0] for s in sectors] == [
        "tech",
        "financials",
        "energy",
        "health",
        "staples",
        "discretionary",
    ]  # industrials = GE alone is its constituent row; no "other": every ticker is mapped
    assert len(segments) == 26
    for _, _, members, w in sectors:
        assert w.sum() == pytest.approx(1.0) and (w > 0).sum() == len(members)


def test_variant_tables_stack_the_sets(reference):
    gen = historical_paths(reference, H)
    table = variant_tables({"a": gen, "b": 2 * gen}, reference, ASSETS, SECTORS)
    assert table.columns[0] == "variant" and set(table["variant"]) == {"a", "b"}
    summary = segment_summary(table)
    assert summary[["variant", "horizon"]].values.tolist() == [
        ["a", H],
        ["a", 1],
        ["b", H],
        ["b", 1],
    ]
    b = summary[(summary.variant == "b") & (summary.horizon == H)].iloc[0]
    assert b["max_es_error"] == pytest.approx(1.0) and b["median_es_error"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="sets is empty"):
        variant_tables({}, reference, ASSETS, SECTORS)
