"""Tests of diffrisk.stress.archetypes: archetype and crisis-window specifications."""

from __future__ import annotations

import pytest

from diffrisk.stress.archetypes import (
    parse_archetypes,
    parse_crisis_windows,
    resolve_archetype,
)
from diffrisk.stress.signatures import (
    SIGNATURE_COLUMNS,
    historical_signatures,
)
from tests.stress.conftest import TEST_START, TRAIN_END


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
    with pytest.raises(ValueError, match="must start before it ends"):
        parse_crisis_windows("c=2004-01-01/2003-01-01", TRAIN_END, TEST_START)
