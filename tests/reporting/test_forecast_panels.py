"""Tests of diffrisk.reporting.forecast_panels: Figures 2 and 3 drawn."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.reporting.forecast_panels import draw_fig2, draw_fig3
from diffrisk.reporting.paper_figures import fig3_cvar_exceedances
from diffrisk.reporting.style import sort_methods


def test_fig2_counts_each_level_s_exceptions_in_its_panel_title(study):
    forecasts = study["forecasts"]
    fig = draw_fig2(forecasts, "portfolio", (0.05, 0.01))
    assert len(fig.axes) == len(forecasts)
    for ax, method in zip(fig.axes, sort_methods(forecasts), strict=True):
        f = forecasts[method].loc[lambda x: x["series"] == "portfolio"]
        n5, n1 = (int((f["realized"] < f[c]).sum()) for c in ("var_05", "var_01"))
        assert n5 >= n1 > 0
        assert _title(ax).endswith(
            f"exceptions 5%: {n5} ({100 * n5 / len(f):.1f}%), "
            f"1%: {n1} ({100 * n1 / len(f):.1f}%) of {len(f)} days"
        )
    with pytest.raises(ValueError, match=r"forecasts\['hs'\] has no rows for series 'AAPL'"):
        draw_fig2({"hs": forecasts["hs"]}, "AAPL")


def _title(ax) -> str:
    """The axes' title wherever the style placed it (``axes.titlelocation``)."""
    return "".join(ax.get_title(loc) for loc in ("left", "center", "right"))


def test_fig3_shades_the_given_crash_window_and_counts_its_exceedances(study, root):
    forecasts = study["forecasts"]
    start, end = pd.Timestamp("2020-02-01"), pd.Timestamp("2020-03-31")
    fig = draw_fig3(forecasts, "portfolio", 0.01, (start, end))
    assert len(fig.axes) == len(forecasts)
    counted = 0
    for ax, method in zip(fig.axes, sort_methods(forecasts), strict=True):
        f = forecasts[method].loc[lambda x: x["series"] == "portfolio"]
        dates = pd.to_datetime(f["date"])
        inside = (dates >= start) & (dates <= end)
        expected = int(((f["realized"] < f["var_01"]) & inside).sum())
        counted += expected
        assert _title(ax).endswith(f"; {expected} in the crash window")
        assert "Crash window (Feb–Mar 2020)" in ax.get_legend_handles_labels()[1]
    assert counted > 0  # the synthetic crash regime starts in February 2020
    # no window, or one outside the plotted period: nothing shaded, nothing counted
    for window in (None, ("2010-01-01", "2010-12-31")):
        fig = draw_fig3(forecasts, "portfolio", 0.01, window)
        assert all("crash window" not in _title(ax) for ax in fig.axes)
    with pytest.raises(ValueError, match="fig3 window: end 2020-01-01 is before start 2020-02-01"):
        fig3_cvar_exceedances(forecasts, "portfolio", window=("2020-02-01", "2020-01-01"))
    shaded = fig3_cvar_exceedances(forecasts, "portfolio", window=(start, end), stem="a")
    plain = fig3_cvar_exceedances(forecasts, "portfolio", stem="b")
    assert shaded[0].read_bytes() != plain[0].read_bytes()
