"""Train / validation / test splits by date."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.data.prices import DataError

SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")

#: Refit frequencies of the walk-forward models and the pandas period each stands for.
FREQUENCIES: dict[str, str] = {"year": "Y", "quarter": "Q", "month": "M"}


@dataclass(frozen=True)
class Splits:
    """Train / validation / test periods by date (inclusive bounds).

    Parameters
    ----------
    train_end, val_start, val_end, test_start : str or Timestamp
        Period boundaries (``data.train_end`` etc.).
    test_end : str or Timestamp, optional
        Last test date (the end of the data when None).
    select_end : str or Timestamp, optional
        End of the inner validation period (``data.select_end``) of the nested
        validation: hyper-parameters and epochs are selected on ``val_start …
        select_end``; refit, sampler and primary-method decisions are scored on the rest of
        validation (:meth:`rehearsal`). ``None``: no nested validation.
    """

    train_end: pd.Timestamp
    val_start: pd.Timestamp
    val_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp | None = None
    select_end: pd.Timestamp | None = None

    @classmethod
    def from_params(
        cls,
        train_end: str,
        val_start: str,
        val_end: str,
        test_start: str,
        test_end: str | None = None,
        select_end: str | None = None,
    ) -> Splits:
        """Build from parameter strings, checking their order."""

        def ts(name: str, value: object) -> pd.Timestamp:
            try:
                return pd.Timestamp(str(value))
            except (ValueError, TypeError) as exc:
                raise DataError(f"parameter data.{name}={value!r} is not a date") from exc

        out = cls(
            ts("train_end", train_end),
            ts("val_start", val_start),
            ts("val_end", val_end),
            ts("test_start", test_start),
            ts("test_end", test_end) if test_end not in (None, "", "null") else None,
            ts("select_end", select_end) if select_end not in (None, "", "null") else None,
        )
        out._check_order()
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Splits:
        """The splits of the ``data`` section of ``params.yaml`` (``test_end: ""`` = end of data).

        Raises
        ------
        DataError
            If one of ``train_end``, ``val_start``, ``val_end``, ``test_start`` is missing.
        """
        keys = ("train_end", "val_start", "val_end", "test_start")
        missing = [k for k in keys if k not in data]
        if missing:
            raise DataError(f"parameter data.{missing[0]} missing (need {list(keys)})")
        return cls.from_params(
            *(str(data[k]) for k in keys),
            str(data.get("test_end") or "") or None,
            str(data.get("select_end") or "") or None,
        )

    def _check_order(self) -> None:
        chain = [
            ("train_end", self.train_end),
            ("val_start", self.val_start),
            ("val_end", self.val_end),
            ("test_start", self.test_start),
        ]
        if self.test_end is not None:
            chain.append(("test_end", self.test_end))
        for (n1, d1), (n2, d2) in zip(chain, chain[1:], strict=False):
            strict = n1 in ("train_end", "val_end")
            if (d1 >= d2) if strict else (d1 > d2):
                rel = "before" if strict else "on or before"
                raise DataError(
                    f"split dates out of order: data.{n1}={d1.date()} must be {rel} "
                    f"data.{n2}={d2.date()}"
                )
        if self.select_end is not None and not (self.val_start <= self.select_end < self.val_end):
            raise DataError(
                f"data.select_end={self.select_end.date()} must lie in the validation period "
                f"[{self.val_start.date()}, {self.val_end.date()}) (before data.val_end)"
            )

    def rehearsal(self) -> Splits:
        """The nested-validation split: the study's protocol replayed inside validation.

        Train is unchanged, validation becomes ``val_start … select_end`` and the
        "test" period ``select_end + 1 day … val_end``. Every decision scored on the
        rehearsal's test period (refit, sampler, primary method) therefore never sees the
        real test period, and its selection step never sees the rows it is scored on.

        Raises
        ------
        DataError
            If ``select_end`` is not set.
        """
        if self.select_end is None:
            raise DataError("data.select_end is empty: nested validation needs it")
        return Splits(
            train_end=self.train_end,
            val_start=self.val_start,
            val_end=self.select_end,
            test_start=self.select_end + pd.Timedelta(days=1),
            test_end=self.val_end,
        )

    @property
    def fit_dates(self) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
        """``(train_end, val_start, val_end)``: the dates a generator's fit takes.

        Training windows end on or before ``train_end``; the epoch is selected on
        ``val_start … val_end`` (e.g.
        ``train_stress_model(returns, splits.fit_dates, config, seed=seed)``).
        """
        return self.train_end, self.val_start, self.val_end

    def labels(self, dates: pd.DatetimeIndex) -> NDArray[np.str_]:
        """Label each date ``train``, ``validation``, ``test`` or ``""`` (in no split)."""
        d = pd.DatetimeIndex(dates)
        end = self.test_end if self.test_end is not None else d.max()
        out = np.full(len(d), "", dtype=object)
        out[d <= self.train_end] = "train"
        out[(d >= self.val_start) & (d <= self.val_end)] = "validation"
        out[(d >= self.test_start) & (d <= end)] = "test"
        return out.astype(str)

    def dates(self, returns: pd.DataFrame, split: str) -> pd.DatetimeIndex:
        """Dates of ``returns`` in ``split``."""
        if split not in SPLIT_NAMES:
            raise DataError(f"split must be one of {SPLIT_NAMES}, got {split!r}")
        idx = pd.DatetimeIndex(returns.index)
        return idx[self.labels(idx) == split]

    def check_against(self, returns: pd.DataFrame, min_train: int = 250) -> None:
        """Check that every split has data and train has at least ``min_train`` rows."""
        idx = pd.DatetimeIndex(returns.index)
        first, last = idx.min(), idx.max()
        for name, d in (
            ("train_end", self.train_end),
            ("val_start", self.val_start),
            ("val_end", self.val_end),
            ("test_start", self.test_start),
            ("test_end", self.test_end),
        ):
            if d is not None and not (first <= d <= last):
                raise DataError(
                    f"parameter data.{name}={d.date()} is outside the data "
                    f"({first.date()} … {last.date()})"
                )
        counts = {s: len(self.dates(returns, s)) for s in SPLIT_NAMES}
        if counts["train"] < min_train:
            raise DataError(
                f"too few rows: the training period has {counts['train']} returns, need at "
                f"least {min_train} (the longest look-back window plus some history)"
            )
        for split in ("validation", "test"):
            if counts[split] == 0:
                raise DataError(f"too few rows: the {split} period has no returns")


def refit_periods(dates: Iterable[Any], frequency: str) -> list[pd.DatetimeIndex]:
    """Split sorted dates into consecutive calendar periods (one walk-forward version each).

    Used by both walk-forward refits (the one-day model's ``ddpm_wf`` and the stress
    model's yearly versions).

    Parameters
    ----------
    dates : sequence of dates
        Sorted, unique dates.
    frequency : {"year", "quarter", "month"}
        Calendar period of one model version.

    Returns
    -------
    list of DatetimeIndex
        The dates of each period, in order (empty periods are skipped).
    """
    if frequency not in FREQUENCIES:
        raise ValueError(
            f"walk_forward.frequency must be one of {sorted(FREQUENCIES)}, got {frequency!r}"
        )
    index = pd.DatetimeIndex(dates)
    if index.empty:
        raise ValueError("no forecast dates to split into walk-forward periods")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise ValueError("forecast dates must be sorted and unique")
    labels = index.to_period(FREQUENCIES[frequency])
    return [index[labels == p] for p in pd.unique(labels)]


def periods_after_fit(
    dates: Iterable[Any], frequency: str, fit_end: Any, first_day: str
) -> list[pd.DatetimeIndex]:
    """:func:`refit_periods`, after checking that version 0 was fitted before them.

    Parameters
    ----------
    dates, frequency
        As for :func:`refit_periods`.
    fit_end : date
        Last day of version 0's fit data.
    first_day : str
        What the first date is called in the error ("forecast date", "walk-forward day").

    Raises
    ------
    ValueError
        If ``fit_end`` is on or after the first period's first day, or from
        :func:`refit_periods`.
    """
    periods = refit_periods(dates, frequency)
    if pd.Timestamp(fit_end) >= periods[0][0]:
        raise ValueError(
            f"version 0 was fitted through {fit_end}, on or after the first "
            f"{first_day} {periods[0][0].date()}"
        )
    return periods
