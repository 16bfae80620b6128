"""Tests of the figures stage (diffrisk.stages.figures): the files follow ``data.series``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.core import paths
from diffrisk.forecasts.contract import ScenarioSet, risk_frame_from_scenarios
from diffrisk.forecasts.store import save_forecasts
from diffrisk.reporting.style import FIGURE_STEMS
from diffrisk.stages import figures

METHODS = ("hs", "ddpm")
SERIES = ("portfolio", "sp500")


@pytest.fixture
def forecasts(project_tmp):
    """Forecasts and scenarios of two methods for two series, 60 test days."""
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2020-01-02", periods=60, name="date")
    realized = rng.standard_normal((len(SERIES), len(dates))) * 0.01
    for k, m in enumerate(METHODS):
        scen = (rng.standard_normal((len(SERIES), len(dates), 200)) * 0.01 * (1 + k)).astype(
            np.float32
        )
        sset = ScenarioSet(scenarios=scen, dates=dates, series=list(SERIES))
        save_forecasts(m, risk_frame_from_scenarios(scen, dates, SERIES, realized), sset)
    return project_tmp


def _draw(series: str) -> dict:
    methods = ",".join(METHODS)
    return figures.run(
        figures={"methods": methods, "distribution_methods": methods, "fig3_alpha": 0.01},
        data={"series": series},
        coverage={"crash_start": "2020-02-01", "crash_end": "2020-04-30"},
    )


@pytest.mark.parametrize(
    ("series", "suffixes"), [("portfolio", ("",)), ("portfolio,sp500", ("", "_sp500"))]
)
def test_figures_land_in_the_paper_directory_one_set_per_series(forecasts, series, suffixes):
    drawn = _draw(series)
    folder = paths.paper_figures_dir()
    assert folder == forecasts / "reports" / "figures" / "paper"
    stems = [f"{stem}{suffix}" for suffix in suffixes for stem in FIGURE_STEMS]
    assert drawn == {s: (folder / f"{s}.png", folder / f"{s}.pdf") for s in stems}
    # exactly these files: the directory output holds nothing of another series
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{s}.{ext}" for s in stems for ext in ("png", "pdf")
    )
    assert not list(paths.figures_dir().glob("*.p*"))
