"""Named periods of the data: the held-out periods and validation windows of a replay.

The reverse stress test (stage ``reverse_stress``) replays realised losses in periods:
``stress.reverse.periods`` names the held-out periods of its test replay (``"yearly"``:
every calendar year of the test period) and ``stress.reverse.validation_windows`` cuts the
validation period into the sub-periods of the validation replay that makes its choices.
Both work on any data: the dates come from the data and the split parameters. The
``data`` stage checks the periods against the data up front
(:func:`diffrisk.stages.param_checks.check_data_params`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: ``stress.reverse.periods`` value: every calendar year of the test period.
YEARLY = "yearly"


def parse_periods(spec: str) -> dict[str, tuple[str, str]]:
    """``"name=start/end; ..."`` -> ``{name: (start, end)}`` (ValueError naming the entry).

    ``"yearly"`` is not parsed here: :func:`held_out_periods` resolves it against the data.
    """
    out: dict[str, tuple[str, str]] = {}
    for chunk in (c.strip() for c in str(spec).split(";") if c.strip()):
        name, eq, span = (x.strip() for x in chunk.partition("="))
        start, slash, end = (x.strip() for x in span.partition("/"))
        if not (eq and slash and name and start and end):
            raise ValueError(
                f"stress.reverse.periods entry {chunk!r}: expected name=start/end "
                "(or the whole value 'yearly')"
            )
        try:
            first, last = pd.Timestamp(start), pd.Timestamp(end)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"stress.reverse.periods entry {chunk!r}: {start!r} or {end!r} is not a date "
                f"(YYYY-MM-DD): {exc}"
            ) from None
        if pd.isna(first) or pd.isna(last) or first > last:
            raise ValueError(
                f"stress.reverse.periods entry {chunk!r}: expected two dates, start <= end"
            )
        out[name] = (str(first.date()), str(last.date()))
    return out


def held_out_periods(
    spec: str,
    index: pd.DatetimeIndex,
    start: pd.Timestamp,
    end: pd.Timestamp | None,
    horizon: int,
) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """The held-out periods of ``stress.reverse.periods``, clipped to the test period.

    Parameters
    ----------
    spec : str
        ``"yearly"``: every calendar year of the test period, named ``test_<year>``;
        otherwise named periods (:func:`parse_periods`).
    index : DatetimeIndex
        The data's dates.
    start, end : Timestamp
        The test period (``end`` None: the last date of ``index``).
    horizon : int
        Days of a window: a period with fewer rows of ``index`` is skipped.

    Returns
    -------
    usable : dict of str to (str, str)
        The periods clipped to ``[start, end]`` that hold at least one window (ISO dates).
    skipped : list of str
        The names of the others, sorted.

    Raises
    ------
    ValueError
        Naming ``stress.reverse.periods`` when an entry is malformed or no period holds a
        ``horizon``-day window of the test period.
    """
    end = pd.Timestamp(end) if end is not None else index[-1]
    start = pd.Timestamp(start)
    if str(spec).strip().lower() == YEARLY:
        years = sorted({d.year for d in index[(index >= start) & (index <= end)]})
        named = {f"test_{y}": (f"{y}-01-01", f"{y}-12-31") for y in years}
    else:
        named = parse_periods(spec)
    clipped = {
        name: (max(pd.Timestamp(s), start), min(pd.Timestamp(e), end))
        for name, (s, e) in named.items()
    }
    usable = {
        name: (str(s.date()), str(e.date()))
        for name, (s, e) in clipped.items()
        if ((index >= s) & (index <= e)).sum() >= int(horizon)
    }
    if not usable:
        test = index[(index >= start) & (index <= end)]
        span = f"{test[0].date()} … {test[-1].date()}" if len(test) else "no rows"
        raise ValueError(
            f"stress.reverse.periods: no period holds a {int(horizon)}-day window of the test "
            f"period ({span}); name periods inside it or use 'yearly'"
        )
    return usable, sorted(set(clipped) - set(usable))


def validation_periods(
    index: pd.DatetimeIndex,
    start: pd.Timestamp,
    end: pd.Timestamp,
    n_windows: Any,
    horizon: int,
) -> dict[str, tuple[str, str]]:
    """The validation period ``[start, end]`` cut into ``n_windows`` consecutive periods.

    The rows of ``index`` inside the period are split into ``n_windows`` runs of equal
    length (the first ones one row longer when it does not divide), named
    ``validation_1``, ... Each must hold at least ``horizon`` rows (one window).

    Raises
    ------
    ValueError
        Naming ``stress.reverse.validation_windows`` when it is not an integer >= 1 or
        the period is too short for that many ``horizon``-day windows.
    """
    key = "stress.reverse.validation_windows"
    if isinstance(n_windows, bool) or int(n_windows) != n_windows or int(n_windows) < 1:
        raise ValueError(f"{key} must be an integer >= 1, got {n_windows!r}")
    n = int(n_windows)
    rows = index[(index >= pd.Timestamp(start)) & (index <= pd.Timestamp(end))]
    if len(rows) < n * int(horizon):
        raise ValueError(
            f"{key}={n}: the validation period {pd.Timestamp(start).date()}.."
            f"{pd.Timestamp(end).date()} (data.val_start..data.val_end) has {len(rows)} rows, "
            f"fewer than {n} windows of the {horizon}-day horizon need ({n * int(horizon)})"
        )
    chunks = np.array_split(np.arange(len(rows)), n)
    return {
        f"validation_{k + 1}": (str(rows[c[0]].date()), str(rows[c[-1]].date()))
        for k, c in enumerate(chunks)
    }
