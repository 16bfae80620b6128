"""Tests of diffrisk.reporting.stress_segments: the segment-coverage figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.segments import variant_tables
from diffrisk.reporting.stress_segments import figure_segment_errors
from diffrisk.reporting.style import save_figure

ASSETS = ["AAPL", "MSFT", "JPM"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame(0.01 * rng.standard_normal((300, 3)), columns=ASSETS)
    gen = historical_paths(ref, 5)
    sets = {"diffusion": gen * 1.2, "diffusion_stratified": gen * np.array([1.1, 1.0, 1.5])}
    return variant_tables(sets, ref, ASSETS, "tech=AAPL,MSFT")


def test_one_bar_per_segment_and_variant_with_goal_lines(table, tmp_path):
    fig = figure_segment_errors(table, 5)
    ax = fig.axes[0]
    bars = list(ax.patches)
    assert len(bars) == 4 * 2  # 3 constituents + 1 sector, two variants
    np.testing.assert_allclose(
        sorted(b.get_width() for b in bars),
        sorted(table.loc[table["horizon"] == 5, "es_rel_error"]),
    )
    assert len(ax.lines) == 2  # the 2 x median line of each variant
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "tech (sector)"
    png, pdf = save_figure(fig, "segments", tmp_path)
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0


def test_missing_horizon_raises(table):
    with pytest.raises(ValueError, match="no rows for horizon=3"):
        figure_segment_errors(table, 3)
