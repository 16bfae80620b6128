"""The forecast-file contract: risk columns, alpha tags, ScenarioSet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.risk.measures import check_design, var_cvar

ALPHAS: tuple[float, ...] = (0.05, 0.025, 0.01)


def alpha_tag(alpha: float) -> str:
    """Return the column suffix of ``alpha``: 0.05 → ``"05"``, 0.025 → ``"025"``."""
    text = f"{float(alpha):.6f}".rstrip("0")
    if not text.startswith("0."):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return text[2:]


def var_column(alpha: float) -> str:
    """Return the VaR column name for ``alpha`` (e.g. ``var_05``)."""
    return f"var_{alpha_tag(alpha)}"


def cvar_column(alpha: float) -> str:
    """Return the CVaR column name for ``alpha`` (e.g. ``cvar_05``)."""
    return f"cvar_{alpha_tag(alpha)}"


RISK_COLUMNS: tuple[str, ...] = tuple(
    col for a in ALPHAS for col in (var_column(a), cvar_column(a))
)


def risk_frame(
    dates: Sequence[Any] | pd.DatetimeIndex,
    series: Sequence[str],
    var_by_alpha: Mapping[float, NDArray[np.floating]],
    cvar_by_alpha: Mapping[float, NDArray[np.floating]],
    realized: NDArray[np.floating],
) -> pd.DataFrame:
    """Assemble a long forecast table from (series × days) arrays.

    Parameters
    ----------
    dates : sequence of dates, length D
        Forecast dates (the day whose return is forecast).
    series : sequence of str, length S
        Series names.
    var_by_alpha, cvar_by_alpha : mapping alpha → array (S, D)
        VaR and CVaR forecasts in return space.
    realized : array (S, D)
        Realised log returns.

    Returns
    -------
    DataFrame
        Columns ``date, series, var_05, cvar_05, ..., realized``, sorted by series, date.
    """
    idx = pd.DatetimeIndex(pd.to_datetime(list(dates)))
    n_s, n_d = len(series), len(idx)
    realized = np.asarray(realized, dtype=float)
    if realized.shape != (n_s, n_d):
        raise ValueError(
            f"realized must have shape (series, days)=({n_s}, {n_d}), got {realized.shape}"
        )
    frame = pd.DataFrame(
        {
            "date": np.tile(idx.values, n_s),
            "series": np.repeat(np.asarray(series, dtype=object), n_d),
        }
    )
    for alpha in sorted(var_by_alpha, reverse=True):
        for col, source in ((var_column(alpha), var_by_alpha), (cvar_column(alpha), cvar_by_alpha)):
            values = np.asarray(source[alpha], dtype=float)
            if values.shape != (n_s, n_d):
                raise ValueError(f"{col} must have shape ({n_s}, {n_d}), got {values.shape}")
            frame[col] = values.reshape(-1)
    frame["realized"] = realized.reshape(-1)
    return frame


def risk_frame_from_scenarios(
    scenarios: NDArray[np.floating],
    dates: Sequence[Any] | pd.DatetimeIndex,
    series: Sequence[str],
    realized: NDArray[np.floating],
    alphas: Sequence[float] = ALPHAS,
    design: str = "empirical",
) -> pd.DataFrame:
    """Forecast table whose VaR/CVaR are computed from scenarios (S × D × N).

    Parameters
    ----------
    scenarios : ndarray (S, D, N)
        Scenario returns (float32 is not copied to float64).
    dates, series, realized
        As for :func:`risk_frame`.
    alphas : sequence of float, default :data:`ALPHAS`
        Tail probabilities.
    design : {"empirical", "iid", "stratified"}, default "empirical"
        Sampling design of the scenarios (a :class:`ScenarioSet`'s ``design``), which
        picks the VaR/CVaR estimator (:func:`diffrisk.risk.measures.var`).

    Returns
    -------
    DataFrame
        The forecast table of :func:`risk_frame`.
    """
    scen = np.asarray(scenarios)
    var_by, cvar_by = {}, {}
    for a in alphas:
        v, e = var_cvar(scen, a, axis=-1, design=design)
        var_by[a], cvar_by[a] = np.asarray(v), np.asarray(e)
    return risk_frame(dates, series, var_by, cvar_by, realized)


def validate_forecast_frame(frame: pd.DataFrame, method: str = "forecast") -> pd.DataFrame:
    """Check a forecast table; raise ``ValueError`` naming the first problem."""
    required = {"date", "series", "realized", *RISK_COLUMNS}
    missing = sorted(required - set(frame.columns))
    if missing:
        raise ValueError(f"{method}: forecast table lacks columns {missing}")
    for col in RISK_COLUMNS:
        bad = ~np.isfinite(frame[col].to_numpy(dtype=float))
        if bad.any():
            row = frame.loc[bad].iloc[0]
            raise ValueError(
                f"{method}: {col} is not finite for series {row['series']!r} "
                f"on {pd.Timestamp(row['date']).date()}"
            )
    for alpha in ALPHAS:
        v, c = frame[var_column(alpha)], frame[cvar_column(alpha)]
        bad = c > v + 1e-12
        if bad.any():
            row = frame.loc[bad].iloc[0]
            raise ValueError(
                f"{method}: {cvar_column(alpha)} > {var_column(alpha)} for series "
                f"{row['series']!r} on {pd.Timestamp(row['date']).date()}"
            )
    if frame.duplicated(["date", "series"]).any():
        raise ValueError(f"{method}: duplicate (date, series) rows")
    return frame


@dataclass(frozen=True)
class ScenarioSet:
    """Raw predictive scenarios of one method.

    Attributes
    ----------
    scenarios : ndarray (S, D, N) float32
        Scenario returns per series and forecast day.
    dates : DatetimeIndex, length D
    series : list of str, length S
    design : str, default "empirical"
        How the scenarios were sampled (one of
        :data:`diffrisk.risk.measures.QUANTILE_DESIGNS`): ``"iid"`` draws,
        ``"stratified"`` (one draw per probability stratum of width 1/N) or
        ``"empirical"`` (no design assumed). Every VaR/CVaR recomputed from the set uses
        the estimator of its design.
    """

    scenarios: NDArray[np.float32]
    dates: pd.DatetimeIndex
    series: list[str]
    design: str = "empirical"

    def __post_init__(self) -> None:
        check_design(self.design, "ScenarioSet.design")

    def for_series(self, name: str) -> NDArray[np.float32]:
        """Return the (D × N) scenarios of one series."""
        try:
            i = self.series.index(name)
        except ValueError as exc:
            raise KeyError(f"series {name!r} not in scenario set {self.series}") from exc
        return self.scenarios[i]


def forecast_date_positions(
    index: pd.DatetimeIndex, forecast_dates: Iterable[Any]
) -> tuple[pd.DatetimeIndex, NDArray[np.intp]]:
    """Parse forecast dates and find their rows in a returns index.

    Parameters
    ----------
    index : DatetimeIndex
        The returns' dates.
    forecast_dates : iterable of date-like
        Days to forecast; non-empty, sorted increasing, no duplicates, all in ``index``.

    Returns
    -------
    dates : DatetimeIndex
        The parsed forecast dates.
    positions : ndarray of intp
        Their row positions in ``index``.

    Raises
    ------
    ValueError
        Naming ``forecast_dates`` and what is wrong (not dates, empty, unsorted or
        duplicated, or the first date missing from ``index``).
    """
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(list(forecast_dates)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"forecast_dates must be dates: {exc}") from exc
    if len(dates) == 0:
        raise ValueError("forecast_dates is empty")
    if not dates.is_unique or not dates.is_monotonic_increasing:
        raise ValueError("forecast_dates must be sorted increasing without duplicates")
    positions = pd.DatetimeIndex(index).get_indexer(dates)
    missing = dates[positions < 0]
    if len(missing):
        raise ValueError(
            f"forecast_dates {missing[0].date()} not in the returns index "
            f"({len(missing)} forecast date(s) missing)"
        )
    return dates, positions.astype(np.intp)
