"""Stage ``figures``.

The paper's Figures 1-3 per headline series. Writes
``reports/figures/paper/fig{1,2,3}_*.{png,pdf}`` (:func:`diffrisk.core.paths.paper_figures_dir`,
a directory output in ``dvc.yaml``: its files follow ``data.series``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from diffrisk.core import paths
from diffrisk.core.params import parse_list
from diffrisk.forecasts.store import load_forecasts, load_scenarios
from diffrisk.reporting.paper_figures import write_paper_figures


def draw_figures(
    *,
    methods: str | Sequence[str],
    distribution_methods: str | Sequence[str],
    headline: str | Sequence[str],
    fig3_alpha: float,
    crash_window: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Run the ``figures`` stage: the paper's Figures 1–3 for each headline series.

    Parameters
    ----------
    methods : str or sequence of str
        Methods drawn in Figures 2–3 (one panel each).
    distribution_methods : str or sequence of str
        Methods whose scenarios Figure 1 compares with the realised returns.
    headline : str or sequence of str
        Series; the first gets ``fig1_distribution.png`` etc., the others
        ``fig1_distribution_<series>.png``, all in ``reports/figures/paper``.
    fig3_alpha : float
        Tail probability of Figure 3's VaR-to-CVaR band.
    crash_window : (start, end), optional
        Window shaded in Figure 3 (the headline's ``coverage.crash_start``,
        ``coverage.crash_end``); None: none.

    Returns
    -------
    dict
        File stem → (PNG, PDF) paths.
    """
    frames = {m: load_forecasts(m) for m in parse_list(methods)}
    scen = {m: load_scenarios(m) for m in parse_list(distribution_methods)}
    return write_paper_figures(
        frames,
        scen,
        series=parse_list(headline),
        fig3_alpha=float(fig3_alpha),
        crash_window=crash_window,
        out_dir=paths.paper_figures_dir(),
    )


def run(
    *, figures: Mapping[str, Any], data: Mapping[str, Any], coverage: Mapping[str, Any]
) -> dict[str, Any]:
    """Stage ``figures``: :func:`draw_figures` with its ``dvc.yaml`` parameters."""
    return draw_figures(
        **figures,
        headline=data["series"],
        crash_window=(coverage["crash_start"], coverage["crash_end"]),
    )
