"""Tests of diffrisk.stress.archetypes: archetype and crisis-window specifications."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.stress.archetypes import (
    parse_archetypes,
    parse_crisis_windows,
    resolve_archetype,
)
from diffrisk.stress.signatures import (
    SIGNATURE_COLUMNS,
    historical_signatures,
    out_of_range,
    training_signature_range,
)
from tests.stress.conftest import TEST_START, TRAIN_END, synthetic_returns


def test_parse_archetypes_and_resolve_window(returns):
    specs = parse_archetypes(
        "unconditional; v2: vol_ratio=2; crash: window=2002-03-01/2002-06-28; "
        "late: cum_return=-0.15, as_of=2004-01-05"
    )
    assert [a.name for a in specs] == ["unconditional", "v2", "crash", "late"]
    assert specs[3].as_of == "2004-01-05" and specs[1].signature == {"vol_ratio": 2.0}
    crash = resolve_archetype(specs[2], returns, 10)
    assert set(crash.signature) == set(SIGNATURE_COLUMNS)
    assert "2002-03-01" <= crash.as_of <= "2002-06-28"
    assert crash.source.startswith("worst 10-day window")
    # the worst window: no other window starting in the period has a lower cum_return
    sig = historical_signatures(returns, 10)
    inside = sig[(sig.start >= "2002-03-01") & (sig.start <= "2002-06-28")]
    assert crash.signature["cum_return"] == pytest.approx(inside.cum_return.min())
    # the scenario-set index stores exactly these five fields
    assert list(crash.record()) == ["name", "signature", "window", "as_of", "source"]


def test_training_quantile_archetype_is_the_training_windows_quantile(returns):
    (relative,) = parse_archetypes("decline_q01: cum_return=q0.01, vol_ratio=2")
    assert relative.quantiles == {"cum_return": 0.01} and relative.signature == {"vol_ratio": 2.0}
    resolved = resolve_archetype(relative, returns, 10, train_end=TRAIN_END)
    training = historical_signatures(returns.loc[:TRAIN_END], 10)
    assert training["end"].max() <= pd.Timestamp(TRAIN_END)
    expected = float(np.quantile(training["cum_return"].to_numpy(), 0.01))
    assert resolved.signature == {"cum_return": pytest.approx(expected), "vol_ratio": 2.0}
    assert resolved.quantiles == {} and resolved.window is None
    assert resolved.source == (
        f"training quantiles cum_return=q0.01 of the {len(training)} 10-day windows up to "
        f"{pd.Timestamp(TRAIN_END).date()}"
    )
    assert resolved.record()["signature"]["cum_return"] == pytest.approx(expected)
    # inside the range the stress model records (q0 is its lower bound itself)
    bounds = training_signature_range(returns, TRAIN_END, 10)
    assert out_of_range({"cum_return": resolved.signature["cum_return"]}, bounds) == []
    (lowest,) = parse_archetypes("worst: cum_return=q0")
    low = resolve_archetype(lowest, returns, 10, train_end=TRAIN_END).signature["cum_return"]
    assert low == bounds.loc["lower", "cum_return"]
    assert out_of_range({"cum_return": low}, bounds) == []


def test_training_quantile_reads_no_row_after_train_end(returns):
    (relative,) = parse_archetypes("d: cum_return=q0.05, avg_corr=q0.9")
    crashed = returns.copy()
    crashed.loc[crashed.index > pd.Timestamp(TRAIN_END)] = -0.2
    before = resolve_archetype(relative, returns, 10, train_end=TRAIN_END)
    after = resolve_archetype(relative, crashed, 10, train_end=TRAIN_END)
    assert before == after


def test_crisis_windows_are_labelled_relative_to_the_splits():
    windows = parse_crisis_windows(
        "a=2001-01-01/2001-06-30; b=2003-02-01/2003-05-01; c=2004-02-01/2004-08-01",
        TRAIN_END,
        TEST_START,
    )
    assert [w.label for w in windows] == ["in-sample", "validation", "held out"]


def test_archetype_errors():
    with pytest.raises(ValueError, match="unknown key 'vol'"):
        parse_archetypes("x: vol=2")
    with pytest.raises(ValueError, match="has no signature value and no window"):
        parse_archetypes("x")
    with pytest.raises(ValueError, match="takes no signature"):
        parse_archetypes("unconditional: vol_ratio=2")
    with pytest.raises(ValueError, match="duplicate archetype"):
        parse_archetypes("a: vol_ratio=2; a: vol_ratio=3")
    with pytest.raises(ValueError, match="not a number"):
        parse_archetypes("a: vol_ratio=big")
    with pytest.raises(ValueError, match=r"'q1.5': the quantile's probability must lie in"):
        parse_archetypes("a: cum_return=q1.5")
    with pytest.raises(ValueError, match=r"'qx' is not a training quantile 'q<p>'"):
        parse_archetypes("a: cum_return=qx")
    with pytest.raises(ValueError, match="give either a window or signature values"):
        parse_archetypes("a: cum_return=q0.01, window=2002-03-01/2002-06-28")
    with pytest.raises(ValueError, match=r"archetype 'a': as_of='2020-13-45' is not a date"):
        parse_archetypes("a: vol_ratio=2, as_of=2020-13-45")
    with pytest.raises(ValueError, match="cum_return is given twice"):
        parse_archetypes("a: cum_return=q0.01, cum_return=-0.1")
    (relative,) = parse_archetypes("a: cum_return=q0.01")
    with pytest.raises(ValueError, match="not resolved yet"):
        relative.record()
    with pytest.raises(ValueError, match="train_end is needed to resolve them"):
        resolve_archetype(relative, synthetic_returns(), 10)
    with pytest.raises(ValueError, match="no 10-day training window ends on or before 1990-01-31"):
        resolve_archetype(relative, synthetic_returns(), 10, train_end="1990-01-31")
    with pytest.raises(ValueError, match="must start before it ends"):
        parse_crisis_windows("c=2004-01-01/2003-01-01", TRAIN_END, TEST_START)
