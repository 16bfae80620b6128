"""Start-up facts of the service: the conditioning dates each generator really serves."""

from __future__ import annotations

import dataclasses

import pandas as pd

from diffrisk.service.generators import load_registry
from diffrisk.service.runtime import served_as_of_range


def test_the_served_range_starts_where_draws_start_to_work(pipeline):
    reg = load_registry(pipeline["models"], pipeline["returns"], pipeline["stress"], 1.25)
    gen = reg.get("normal")
    first, last = reg.as_of_range()
    assert served_as_of_range(gen, reg) == (first, last)
    needs_more = reg.returns.index[reg.returns.index.searchsorted(first) + 37]

    def picky(draw):
        if pd.Timestamp(draw.as_of) < needs_more:
            raise ValueError("returns has too few days for the warm-up")
        return gen.sample(draw)

    lo, hi = served_as_of_range(dataclasses.replace(gen, sample=picky), reg)
    assert (lo, hi) == (needs_more, last)
