"""Tests of diffrisk.reporting.reverse_stress."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.reporting.reverse_stress import figure_reverse_stress


def test_one_bar_per_segment_and_method_and_one_interval_per_method():
    contrib = pd.DataFrame(
        {"tech": [0.10, 0.05], "energy": [0.02, 0.08], "other": [0.0, 0.01]},
        index=["diffusion", "normal"],
    )
    summary = pd.DataFrame(
        {
            "method": ["diffusion", "normal"],
            "p": [0.004, 0.01],
            "p_lower": [0.003, 0.009],
            "p_upper": [0.005, 0.011],
            "loss_level": [0.12, 0.12],
        }
    )
    fig = figure_reverse_stress(contrib, summary)
    bars, intervals = fig.axes
    assert len(bars.patches) == 6
    assert [round(p.get_height(), 2) for p in bars.patches[:3]] == [0.10, 0.02, 0.0]
    assert bars.get_legend().get_texts()[1].get_text() == "normal"
    assert "12.0%" in intervals.get_xlabel()
    assert intervals.get_xscale() == "log"


def test_empty_input_raises():
    with pytest.raises(ValueError, match="no method"):
        figure_reverse_stress(pd.DataFrame(), pd.DataFrame())
