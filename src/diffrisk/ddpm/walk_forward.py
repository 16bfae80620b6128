"""Walk-forward refits of the one-day model (``ddpm_wf``).

The static DDPM is fitted once and used for years, while the GARCH baselines refit every
few weeks. The walk-forward variant splits the forecast dates into periods (calendar
years by default) and serves every period from a model fitted through the last trading
day before it: the fitted model (version 0) serves the first period only if it was fitted
through the day before that period's first forecast (e.g. refitted on train +
validation); otherwise the first period, like every later one, is served by a refit on
the expanding window that ends on that day, warm-started from the previous version. So
the first test year is forecast by a model fitted through the end of validation and
each later year by one fitted through the end of the previous year. No forecast can
therefore use a return on or after its own date, and no version sees a return after its
``fit_end``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.data.splits import (  # noqa: F401  (refit_periods re-exported)
    periods_after_fit,
    refit_periods,
)
from diffrisk.ddpm.fit import refit_ddpm
from diffrisk.ddpm.forecast import FewStepSampler, forecast_ddpm
from diffrisk.ddpm.model import DDPMModel
from diffrisk.forecasts.contract import ScenarioSet, forecast_date_positions

logger = logging.getLogger(__name__)


@dataclass
class ModelVersion:
    """One walk-forward version: the model and the forecast dates it serves.

    Attributes
    ----------
    version : int
        0 for the initially fitted model, then 1, 2, … per refit.
    model : DDPMModel
    first_date, last_date : Timestamp
        First and last forecast date served by this version.
    """

    version: int
    model: DDPMModel
    first_date: pd.Timestamp
    last_date: pd.Timestamp

    def record(self) -> dict[str, Any]:
        """Provenance entry: version, fit_end, served dates, refit details."""
        return {
            "version": self.version,
            "fit_end": self.model.fit_end,
            "first_forecast": str(self.first_date.date()),
            "last_forecast": str(self.last_date.date()),
            "data_hash": self.model.data_hash,
            "warm_start": bool(self.model.metrics.get("warm_start", False)),
            "refit_epochs": int(self.model.metrics.get("refit_epochs", 0)),
        }


def walk_forward_versions(
    model: DDPMModel,
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    *,
    frequency: str,
    epochs: int,
    seed: int,
    warm_start: bool = True,
    progress: bool | None = None,
) -> list[ModelVersion]:
    """Fit the model versions of a walk-forward run.

    Parameters
    ----------
    model : DDPMModel
        Version 0; it must not have seen the forecast dates. It serves the first period
        only if fitted through the last trading day before it; otherwise version 1, its
        warm-started refit through that day, does.
    returns : DataFrame (dates × series)
        All returns; each refit drops every row on or after its period's first date.
    forecast_dates : sequence of dates
        The dates to forecast (all in ``returns.index``).
    frequency : {"year", "quarter", "month"}
        One version per calendar period.
    epochs : int
        Training epochs of each refit.
    seed : int
        Refit k uses ``seed + k``.
    warm_start : bool, default True
        Start each refit from the previous version's weights.
    progress : bool, optional
        tqdm progress of each refit.

    Returns
    -------
    list of ModelVersion
        One per period, in date order; ``version`` counts the refits (0: the given
        model), so the list starts at 1 when the given model was refitted for the first
        period.

    Raises
    ------
    ValueError
        If version 0 was fitted on data on or after the first forecast date, or a period
        has no earlier returns.
    """
    dates, _ = forecast_date_positions(returns.index, forecast_dates)
    periods = periods_after_fit(dates, frequency, model.fit_end, "forecast date")
    index = pd.DatetimeIndex(returns.index)
    versions: list[ModelVersion] = []
    current, k = model, 0
    for period in periods:
        before = index[index < period[0]]
        if before.empty:
            raise ValueError(f"no returns before the forecast date {period[0].date()}")
        fit_end = before[-1]
        if pd.Timestamp(current.fit_end) < fit_end:
            k += 1
            logger.info(
                "walk-forward version %d: refit through %s for %s … %s",
                k,
                fit_end.date(),
                period[0].date(),
                period[-1].date(),
            )
            current = refit_ddpm(
                current,
                returns,
                fit_end,
                epochs,
                int(seed) + k,
                warm_start=warm_start,
                progress=progress,
            )
        versions.append(ModelVersion(k, current, period[0], period[-1]))
    return versions


def forecast_walk_forward(
    versions: Sequence[ModelVersion],
    returns: pd.DataFrame,
    *,
    n_scenarios: int,
    seed: int,
    series: Sequence[str] | None = None,
    students: Sequence[FewStepSampler] | None = None,
    **sampling: Any,
) -> tuple[pd.DataFrame, ScenarioSet]:
    """Forecast every version's period with that version; concatenate in date order.

    Parameters
    ----------
    versions : sequence of ModelVersion
        From :func:`walk_forward_versions`.
    returns : DataFrame
        All returns (each forecast uses rows before its date only).
    n_scenarios, seed, series, **sampling
        As for :func:`diffrisk.ddpm.forecast.forecast_ddpm` (the same sampling seed for
        every period).
    students : sequence of FewStepSampler, optional
        One distilled student per version, in the order of ``versions``
        (:func:`diffrisk.ddpm.distill_models.distill_checkpoints`): each version samples
        with its own student (``sampling`` then holds ``noise`` at most). None: the
        versions sample themselves.

    Returns
    -------
    frame : DataFrame
        The forecast table, with a ``model_version`` column.
    scenarios : ScenarioSet
        (S, D, N) scenarios over all periods.
    """
    if students is not None and len(students) != len(versions):
        raise ValueError(f"need one student per version, got {len(students)} for {len(versions)}")
    frames, sets = [], []
    for i, v in enumerate(versions):
        dates = returns.index[(returns.index >= v.first_date) & (returns.index <= v.last_date)]
        own = {} if students is None else {"student": students[i]}
        frame, scen = forecast_ddpm(v.model, returns, dates, n_scenarios=n_scenarios, seed=seed,
                                    series=series, **sampling, **own)  # fmt: skip
        frames.append(frame.assign(model_version=v.version))
        sets.append(scen)
    frame = pd.concat(frames, ignore_index=True)
    order = {name: i for i, name in enumerate(sets[0].series)}
    frame = frame.sort_values(
        ["series", "date"], key=lambda c: c.map(order) if c.name == "series" else c, kind="stable"
    ).reset_index(drop=True)
    scenarios = ScenarioSet(
        scenarios=np.concatenate([s.scenarios for s in sets], axis=1),
        dates=pd.DatetimeIndex(np.concatenate([s.dates.to_numpy() for s in sets])),
        series=sets[0].series,
        design=sets[0].design,
    )
    return frame, scenarios
