"""One up-front check of every parameter that names a ticker, a series or a date window.

The defaults of ``params.yaml`` name S&P 500 tickers (``BAC``, ``JPM`` …) and the 2008 and
2020 crises. On a user's own prices those keys would fail minutes into the pipeline, one
at a time; the ``data`` stage calls :func:`check_data_params` right after loading, so every
bad key is listed at once, within seconds of ``dvc repro``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from diffrisk.data.prices import DataError
from diffrisk.data.splits import Splits
from diffrisk.risk.portfolio import parse_portfolios
from diffrisk.stages.common import check_series_params
from diffrisk.stages.periods import held_out_periods
from diffrisk.stress.archetypes import Archetype, parse_archetypes, resolve_archetype
from diffrisk.stress.signatures import range_detail, training_signature_range

__all__ = ["check_data_params"]

#: Keys naming series of the returns (checked by
#: :func:`diffrisk.stages.common.check_series_params`; None = the default, not checked).
SERIES_KEYS: tuple[str, ...] = ("tune.overrides.val_series", "ddpm.val_series", "ddpm.train_series")

#: Keys (dotted, under ``params.yaml``) whose values name constituents: ``name=A,B; ...``.
TICKER_KEYS: tuple[str, ...] = (
    "stress.validate.portfolios",
    "stress.audit.portfolios",
    "stress.segments.sectors",
)


def _get(params: Mapping[str, Any], key: str) -> Any:
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _entries(spec: Any) -> list[tuple[str, str]]:
    """``name=value; ...`` as ``[(name, value), ...]`` (a chunk without ``=`` has value "")."""
    out = []
    for chunk in (c.strip() for c in str(spec or "").split(";") if c.strip()):
        name, _, value = (s.strip() for s in chunk.partition("="))
        out.append((name, value))
    return out


def _period(text: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    parts = [p.strip() for p in text.split("/")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"expected a period 'YYYY-MM-DD/YYYY-MM-DD', got {text!r}")
    return pd.Timestamp(parts[0]), pd.Timestamp(parts[1])


def _window_problem(text: str, dates: pd.DatetimeIndex, span: str) -> str | None:
    try:
        first, last = _period(text)
    except ValueError as exc:
        return str(exc)
    if not ((dates >= first) & (dates <= last)).any():
        return (
            f"window {text} has no date of the {span} ({dates.min().date()} … {dates.max().date()})"
        )
    return None


def _archetypes(spec: Any, problems: list[str]) -> list[Archetype]:
    """Parse ``stress.generate.archetypes`` as ``stress_generate`` does.

    A syntax error becomes a problem naming the key, and no archetype is returned.
    """
    if spec is None:
        return []
    try:
        return parse_archetypes(str(spec))
    except ValueError as exc:
        problems.append(f"stress.generate.archetypes: {exc}")
        return []


def check_data_params(
    params: Mapping[str, Any],
    constituents: Sequence[str],
    dates: pd.DatetimeIndex,
    splits: Splits,
    series: Sequence[str] = (),
    *,
    returns: pd.DataFrame | None = None,
    raise_error: bool = True,
) -> list[str]:
    """Every problem of the ticker- and window-naming parameters, one line per key.

    Parameters
    ----------
    params : mapping
        The nested parameters (``{"stress": {...}, "coverage": {...}}``); absent keys are
        not checked.
    constituents : sequence of str
        The tickers of the loaded prices.
    dates : DatetimeIndex
        The dates of the returns.
    splits : Splits
        The study's splits (the crash window must lie in the test period).
    series : sequence of str
        The series of the returns (for :data:`SERIES_KEYS`; empty = not checked).
    returns : DataFrame, optional
        The constituents' returns: with them, every archetype of ``stress.audit.archetypes``
        must request a signature inside the range of the training period's windows (the
        audit refuses the others, :func:`~diffrisk.stress.adversarial.validate_request`);
        checked when ``stress.model.horizon``, ``ewma_lambda`` and ``ewma_warmup`` are given
        and there are at least two constituents (the stress study's minimum).
    raise_error : bool, default True
        Raise the problems (if any) instead of returning them.

    Returns
    -------
    list of str
        ``"<key>: <problem>"`` lines; empty when every key fits the data (always, when
        ``raise_error``).

    Raises
    ------
    DataError
        With ``raise_error``: one line per bad key, with what to change.
    """
    names = [str(c) for c in constituents]
    dates = pd.DatetimeIndex(dates)
    problems: list[str] = []
    for key in SERIES_KEYS if len(series) else ():
        value = _get(params, key)
        try:
            check_series_params(series, {key: value})
        except DataError as exc:
            problems.append(f"{key}: {exc}")
    for key in ("stress.validate.portfolios", "stress.audit.portfolios"):
        spec = _get(params, key)
        if spec is None:
            continue
        entries = _entries(spec)
        if not entries:
            problems.append(f"{key}: the portfolios specification is empty")
        # one line per bad portfolio; minvar weights need training returns (not the point
        # here): checked as "all"
        for n, m in entries:
            try:
                parse_portfolios(
                    f"{n}={'all' if m == 'minvar' else m}" if m else n, names, pd.DataFrame()
                )
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
    sectors = _get(params, "stress.segments.sectors")
    if sectors:
        unknown = sorted(
            {t.strip() for _, v in _entries(sectors) for t in v.split(",") if t.strip()}
            - set(names)
        )
        if unknown:
            problems.append(
                f"stress.segments.sectors: tickers {unknown} are not among the constituents {names}"
            )
    crisis = _get(params, "stress.validate.crisis_windows")
    for name, period in _entries(crisis):
        bad = _window_problem(period, dates, "data")
        if bad:
            problems.append(f"stress.validate.crisis_windows ({name}): {bad}")
    archetypes = _archetypes(_get(params, "stress.generate.archetypes"), problems)
    for archetype in archetypes:
        if archetype.window is not None:
            bad = _window_problem("/".join(archetype.window), dates, "data")
            if bad:
                problems.append(f"stress.generate.archetypes ({archetype.name}): {bad}")
        if archetype.as_of is not None:
            bad = _date_problem(archetype.as_of, dates)
            if bad:
                problems.append(f"stress.generate.archetypes ({archetype.name}): as_of {bad}")
    as_of = _get(params, "stress.generate.as_of")
    if as_of:
        bad = _date_problem(str(as_of), dates)
        if bad:
            problems.append(f"stress.generate.as_of: {bad}")
    attacked = _get(params, "stress.audit.archetypes")
    if attacked is not None and archetypes:
        known = [a.name for a in archetypes]
        missing = [a.strip() for a in str(attacked).split(",") if a.strip() not in known]
        missing = [m for m in missing if m]
        if missing:
            problems.append(
                f"stress.audit.archetypes: {missing} are not archetypes of "
                f"stress.generate.archetypes {known}"
            )
    bad = _reverse_periods_problem(params, dates, splits)
    if bad:
        problems.append(bad)
    if returns is not None and not any(
        p.startswith("stress.generate.archetypes") for p in problems
    ):
        problems += _audit_range_problems(params, archetypes, returns, splits)
    start, end = _get(params, "coverage.crash_start"), _get(params, "coverage.crash_end")
    if start and end:
        test = splits.dates(pd.DataFrame(index=dates), "test")
        bad = _window_problem(f"{start}/{end}", test, "test period") if len(test) else None
        if bad:
            problems.append(f"coverage.crash_start/crash_end: {bad}")
    if problems and raise_error:
        raise DataError(
            f"{len(problems)} problem(s) with parameters of params.yaml against the data "
            f"({len(constituents)} constituents, {dates.min().date()} … {dates.max().date()});"
            " set them for your data (README, own data):\n  " + "\n  ".join(problems)
        )
    return problems


def _reverse_periods_problem(
    params: Mapping[str, Any], dates: pd.DatetimeIndex, splits: Splits
) -> str | None:
    """Why ``stress.reverse.periods`` cannot serve the test period, if so (the full line).

    Checked only when ``stress.reverse.periods`` and ``stress.model.horizon`` are given.
    """
    spec, horizon = _get(params, "stress.reverse.periods"), _get(params, "stress.model.horizon")
    if spec is None or horizon is None:
        return None
    test = splits.dates(pd.DataFrame(index=dates), "test")
    if not len(test):
        return None  # the splits' own check names the empty test period
    try:
        held_out_periods(spec, test, test[0], test[-1], int(horizon))
    except ValueError as exc:
        return str(exc)
    return None


def _audit_range_problems(
    params: Mapping[str, Any],
    archetypes: Sequence[Archetype],
    returns: pd.DataFrame,
    splits: Splits,
) -> list[str]:
    """Audited archetypes (of the parsed ``archetypes``) outside the training windows' range.

    The stress model's range
    (:func:`~diffrisk.stress.signatures.training_signature_range` of the constituents up to
    ``data.train_end``, as the model records it); a window archetype's signature is that of
    its worst window (:func:`~diffrisk.stress.archetypes.resolve_archetype`), as
    ``stress_generate`` registers it.
    """
    model = _get(params, "stress.model") or {}
    attacked = _get(params, "stress.audit.archetypes")
    if (
        attacked is None
        or not archetypes
        or any(model.get(k) is None for k in ("horizon", "ewma_lambda", "ewma_warmup"))
        or returns.shape[1] < 2  # no stress study (one constituent): the one-day part runs
    ):
        return []
    horizon, lam, warmup = (
        int(model["horizon"]),
        float(model["ewma_lambda"]),
        int(model["ewma_warmup"]),
    )
    names = {a.strip() for a in str(attacked).split(",") if a.strip()}
    try:
        bounds = training_signature_range(
            returns, splits.train_end, horizon, lam=lam, warmup=warmup
        )
        resolved = [
            resolve_archetype(
                a, returns, horizon, lam=lam, warmup=warmup, train_end=splits.train_end
            )
            for a in archetypes
            if a.name in names
        ]
    except ValueError as exc:
        return [f"stress.audit.archetypes: {exc}"]
    problems = []
    for archetype in resolved:
        detail = range_detail(archetype.signature, bounds, prefix="signature.")
        if detail:
            problems.append(
                f"stress.audit.archetypes ({archetype.name}): {detail}, the range of the "
                f"{horizon}-day windows up to data.train_end; the audit refuses requests "
                "outside it: audit archetypes inside it"
            )
    return problems


def _date_problem(text: str, dates: pd.DatetimeIndex) -> str | None:
    try:
        day = pd.Timestamp(text)
    except (ValueError, TypeError):
        return f"{text!r} is not a date"
    if not dates.min() <= day <= dates.max() + pd.offsets.BDay(1):
        return f"{day.date()} is outside the data ({dates.min().date()} … {dates.max().date()})"
    return None
