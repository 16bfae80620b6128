"""Labels, colours, ordering and the figure style of every report."""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from diffrisk.core import io, paths

logger = logging.getLogger(__name__)


#: Display order of the known methods; DDPM configurations (``ddpm_*``) follow ``ddpm``,
#: any other method comes last, alphabetically.
METHOD_ORDER: tuple[str, ...] = ("hs", "mc_normal", "garch_t", "fhs", "ddpm")


_METHOD_LABELS = {
    "hs": "Historical Simulation",
    "mc_normal": "Monte Carlo (normal)",
    "garch_t": "GARCH(1,1)-t",
    "fhs": "Filtered HS",
    "gas": "GAS one-factor (PZC)",
    "es_caviar": "ES-CAViaR (Taylor)",
    "ddpm": "Diffusion model (DDPM)",
}


SERIES_ORDER: tuple[str, ...] = ("portfolio", "sp500")


_SERIES_LABELS = {"portfolio": "Portfolio (equal-weighted)", "sp500": "S&P 500 index"}


# Colour-blind friendly (seaborn "colorblind", after Okabe & Ito), fixed per method so a
# method has the same colour in every figure.
_METHOD_COLORS = {
    "ddpm": "#0173b2",
    "hs": "#de8f05",
    "mc_normal": "#029e73",
    "garch_t": "#cc78bc",
    "fhs": "#d55e00",
}


_EXTRA_COLORS = ("#56b4e9", "#ca9161", "#fbafe4", "#ece133")


REALISED_COLOR = "0.45"


REALISED_FILL = "0.78"


#: File stems of the tables and figures (DESIGN §5), in report order.
TABLE_STEMS: tuple[str, ...] = ("table1_cvar", "table2_coverage", "table3_extended")


FIGURE_STEMS: tuple[str, ...] = (
    "fig1_distribution",
    "fig2_var_vs_returns",
    "fig3_cvar_exceedances",
)


TABLE_CAPTIONS = {
    "table1_cvar": (
        "Table 1. Average daily CVaR forecast over the test period, in percent of log "
        "return (negative = loss), at tail probabilities α = 5% and 1%."
    ),
    "table2_coverage": (
        "Table 2. VaR exceptions (days with r_t < VaR_t) at α = 5% and 1%: count, rate in "
        "percent (nominal 5% and 1%) and Kupiec proportion-of-failures p-value."
    ),
    "table3_extended": (
        "Table 3. Extended backtests per series and α: Christoffersen independence and "
        "conditional-coverage p-values; Acerbi–Szekely Z2 and its p-value; mean FZ0 loss "
        "(lower is better); Diebold–Mariano statistic and p-value of the FZ0 loss "
        "difference against Filtered HS; number of rolling 250-day windows in the Basel "
        "green, yellow and red zones; Monte-Carlo standard error of the DDPM VaR and CVaR "
        "(average over days, percent). A dash marks a value that does not apply or was "
        "not computed."
    ),
}


#: Caption of every figure of STUDY.md, by file stem (numbered in report order by
#: :func:`diffrisk.reporting.study_report.figure_block`). A figure of a further series
#: (``<stem>_<series>``) takes its stem's caption and names the series. Fields in braces
#: (``{crash_window}``, ``{horizon}``, ``{reverse_es}``, ``{audit_relief}``,
#: ``{segments_es}``) are filled from the run's parameters by the report
#: (:func:`diffrisk.reporting.study_report.figure_caption`).
FIGURE_CAPTIONS = {
    "fig1_distribution": (
        "Simulated versus realised returns (the source paper's Figure 1): density of the "
        "scenarios pooled over all test days against the realised returns (log scale), QQ "
        "plot of the pooled scenarios against the realised returns, and PIT histograms of "
        "the daily forecasts (uniform if the daily forecasts are calibrated)."
    ),
    "fig2_var_vs_returns": (
        "Predicted VaR at 5% and 1% against the realised returns over the test period, one "
        "panel per method; exceptions marked (the source paper's Figure 2)."
    ),
    "fig3_cvar_exceedances": (
        "VaR-to-CVaR band per method, VaR exceedances and returns beyond the CVaR; the "
        "headline's crash window ({crash_window}) shaded (the source paper's Figure 3)."
    ),
    "stress_corr_heatmaps": (
        "Correlation matrices of the daily returns of the constituents: held-out history "
        "(left column) against the diffusion, multivariate-normal and block-bootstrap "
        "scenario sets, unconditional and for the stressed archetypes."
    ),
    "stress_tail_dependence": (
        "Pairwise lower-tail dependence λ(5%) of every pair of constituents, generated "
        "(vertical) against held-out history (horizontal), one panel per generator's "
        "unconditional set; the diagonal is perfect agreement and each panel's title "
        "gives the mean |Δλ|."
    ),
    "stress_fan_charts": (
        "Fan charts of the equal-weighted portfolio's cumulative log return over the "
        "horizon, per archetype: 5–95% and 25–75% bands and the median of the diffusion "
        "paths, with the realised crisis path (black) where the archetype comes from a "
        "historical window."
    ),
    "stress_acf": (
        "Autocorrelation of the daily returns (left) and of their absolute values "
        "(right, volatility clustering), mean over the constituents, lags in days: "
        "generated sets (solid) against held-out history (dashed)."
    ),
    "stress_adversarial": (
        "Adversarial-request audit. Left: mean relief of the {horizon}-day ES found by "
        "the attack against the budget ε, per archetype ({audit_relief} relief dashed). "
        "Right: share of attacks with more than {audit_relief} relief detected against the "
        "share of untouched test requests falsely flagged, per defence, with the combined "
        "defence at its frozen thresholds (star)."
    ),
    "stress_segments": (
        "Relative error of the generated {horizon}-day {segments_es} ES against the realised "
        "one, per "
        "constituent and sector portfolio, for the diffusion model trained as usual and "
        "with segment-stratified windows; dashed lines at twice the median segment error."
    ),
    "reverse_stress": (
        "Reverse stress test of the headline request (equal-weighted portfolio, loss at "
        "the diffusion model's {reverse_es} ES of the {horizon}-day loss): mean loss "
        "contribution per "
        "sector over each method's reverse-stress set, and the estimated "
        "P(loss ≥ L) with its 95% interval per method."
    ),
}


def is_ddpm(method: str) -> bool:
    """Return True for the diffusion model and its configurations (``ddpm``, ``ddpm_*``)."""
    return method == "ddpm" or method.startswith("ddpm_")


def method_label(method: str) -> str:
    """Return the display name of a method key.

    Examples
    --------
    >>> method_label("garch_t")
    'GARCH(1,1)-t'
    >>> method_label("ddpm_ddim")
    'Diffusion model (DDPM, ddim)'
    """
    if method in _METHOD_LABELS:
        return _METHOD_LABELS[method]
    if method.startswith("ddpm_"):
        return f"Diffusion model (DDPM, {method[5:].replace('_', ' ')})"
    return method


def series_label(series: str) -> str:
    """Return the display name of a series (``portfolio``, ``sp500``, or the ticker)."""
    return _SERIES_LABELS.get(series, series)


def method_color(method: str) -> str:
    """Return the fixed colour of a method (a pure function of its name).

    Known methods have fixed colours; other names (e.g. DDPM configurations) get one of a
    few extra colour-blind friendly colours chosen from a CRC-32 of the name.
    """
    if method in _METHOD_COLORS:
        return _METHOD_COLORS[method]
    return _EXTRA_COLORS[zlib.crc32(method.encode("utf-8")) % len(_EXTRA_COLORS)]


def method_rank(method: str) -> tuple[int, str]:
    """Sort key of a method: the report's order first, unknown methods after, by name."""
    if method in METHOD_ORDER:
        return METHOD_ORDER.index(method), method
    if is_ddpm(method):
        return len(METHOD_ORDER), method
    return len(METHOD_ORDER) + 1, method


def sort_methods(methods: Iterable[str]) -> list[str]:
    """Return the distinct methods in display order (see :data:`METHOD_ORDER`)."""
    return sorted(set(methods), key=method_rank)


def series_rank(series: str) -> tuple[int, str]:
    """Sort key of a series: the headline order first, the others after, by name."""
    if series in SERIES_ORDER:
        return SERIES_ORDER.index(series), series
    return len(SERIES_ORDER), series


def alpha_sort_key(alpha: float) -> float:
    """Sort / lookup key of a tail probability, robust to float noise."""
    return round(float(alpha), 6)


def pct_text(alpha: float) -> str:
    """A tail probability as percent text (``0.05`` → ``5%``)."""
    return f"{100 * float(alpha):g}%"


FIG_WIDTH = 7.0  # inches: a two-column paper page


_DPI = 150


def style_rc() -> dict[str, Any]:
    """Return the rc parameters of the figure style (seaborn ``whitegrid``, ``paper``).

    Fonts are pinned to matplotlib's bundled DejaVu Sans so that output does not depend
    on the fonts installed on the machine; PDF fonts are embedded as TrueType (42).
    """
    import seaborn as sns

    rc: dict[str, Any] = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper", font_scale=0.9))
    rc.update(
        {
            "font.family": ["sans-serif"],
            "font.sans-serif": ["DejaVu Sans"],
            "axes.prop_cycle": matplotlib.cycler(
                color=[method_color(m) for m in METHOD_ORDER] + list(_EXTRA_COLORS)
            ),
            "axes.titlesize": 8.5,
            "axes.titlelocation": "left",
            "legend.frameon": False,
            "patch.force_edgecolor": False,
            "figure.dpi": _DPI,
            "savefig.dpi": _DPI,
            "pdf.fonttype": 42,
            "svg.hashsalt": "diffrisk",
            "date.converter": "concise",
        }
    )
    return rc


def set_style() -> None:
    """Apply the figure style globally (for notebooks); the figure functions apply it anyway."""
    matplotlib.rcParams.update(style_rc())


def save_figure(
    fig: Figure,
    stem: str,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    dpi: int = _DPI,
) -> tuple[Path, Path]:
    """Write ``<stem>.png`` (``dpi``) and ``<stem>.pdf`` atomically, without timestamps.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    stem : str
        File name without extension.
    out_dir : path-like, optional
        Folder; default :func:`diffrisk.core.paths.figures_dir`.
    dpi : int, default 150

    Returns
    -------
    tuple of Path
        The PNG and the PDF.

    Notes
    -----
    PNG metadata ``Software`` and PDF metadata ``CreationDate`` are removed so that the
    bytes depend only on the drawing.
    """
    folder = Path(out_dir) if out_dir is not None else paths.figures_dir()
    png, pdf = folder / f"{stem}.png", folder / f"{stem}.pdf"
    with io.atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    with io.atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata={"CreationDate": None})
    logger.info("wrote figure %s (png + pdf) to %s", stem, folder)
    return png, pdf
