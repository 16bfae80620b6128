"""The baselines' settings as the stages give them, from ``params.yaml``'s ``baselines``.

The ``baselines`` stage forecasts the test days, the ``calibrate`` stage the validation
days and the ``select`` stage its rehearsal days with the same settings, all through
:func:`period_baselines`; the ``simulate`` stage runs the baselines on simulated paths
with them. :func:`baseline_settings` is the one place that reads the section and
:func:`baseline_config` the one that turns it into
:func:`~diffrisk.baselines.registry.run_baselines`' ``config``. (A module of its own
rather than :mod:`diffrisk.stages.common`, so that the stages that do not run baselines do
not depend on :mod:`diffrisk.baselines`.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from diffrisk.baselines.registry import SCENARIO_FREE_METHODS, BaselineResult, run_baselines


def baseline_settings(section: Mapping[str, Any]) -> dict[str, Any]:
    """The section's settings, each read once, as the baselines' keyword arguments take them.

    Parameters
    ----------
    section : mapping
        ``params.yaml``'s ``baselines`` section, as for :func:`baseline_config`.

    Returns
    -------
    dict
        ``refit_every``, ``min_obs``, ``max_obs`` (None for 0: an expanding window),
        ``window`` and ``fhs_residuals``, as int.

    Raises
    ------
    KeyError
        Naming a setting the section lacks.
    """
    return {
        "refit_every": int(section["refit_every"]),
        "min_obs": int(section["min_obs"]),
        "max_obs": int(section["max_obs"]) or None,
        "window": int(section["window"]),
        "fhs_residuals": int(section["fhs_residuals"]),
    }


def baseline_config(
    methods: Collection[str], section: Mapping[str, Any], n_scenarios: int
) -> dict[str, dict[str, Any]]:
    """Each of ``methods``' keyword arguments for :func:`run_baselines`.

    Parameters
    ----------
    methods : collection of str
        The baselines to run; the others' entries are left out.
    section : mapping
        ``params.yaml``'s ``baselines`` section (other keys, e.g. ``methods``, are not
        read): ``window`` (look-back of ``hs`` and ``mc_normal``, days); ``refit_every``,
        ``min_obs``, ``max_obs`` (refit frequency in forecast days, minimum history and
        longest rolling fit window of ``garch_t``/``fhs`` and of the FZ0 peers
        ``gas``/``es_caviar``; ``max_obs`` 0 = expanding window, passed on as None);
        ``fhs_residuals`` (most recent standardised residuals used by ``fhs``).
    n_scenarios : int
        Scenarios of ``mc_normal`` and ``garch_t``.

    Returns
    -------
    dict
        Method -> keyword arguments (a fresh dict per method).

    Raises
    ------
    KeyError
        Naming a setting the section lacks.

    Examples
    --------
    >>> section = {"window": 250, "refit_every": 20, "min_obs": 500, "max_obs": 0}
    >>> baseline_config(["hs", "gas"], {**section, "fhs_residuals": 1000}, 100)
    {'hs': {'window': 250}, 'gas': {'refit_every': 20, 'min_obs': 500, 'max_obs': None}}
    """
    settings = baseline_settings(section)
    refits = {k: settings[k] for k in ("refit_every", "min_obs", "max_obs")}
    window = settings["window"]
    config = {
        "hs": {"window": window},
        "mc_normal": {"window": window, "n_scenarios": int(n_scenarios)},
        "garch_t": {**refits, "n_scenarios": int(n_scenarios)},
        "fhs": {**refits, "n_scenarios": settings["fhs_residuals"]},
        # the FZ0 peers: same refit cadence and rolling window as garch_t / fhs
        **{m: dict(refits) for m in sorted(SCENARIO_FREE_METHODS)},
    }
    return {m: c for m, c in config.items() if m in methods}


def period_baselines(
    returns: pd.DataFrame,
    dates: Iterable[Any],
    methods: Sequence[str],
    section: Mapping[str, Any],
    n_scenarios: int,
    seed: int,
    series: Sequence[str] | None = None,
) -> dict[str, BaselineResult]:
    """The baselines' forecasts on ``dates`` with the stage settings.

    Parameters
    ----------
    returns : DataFrame
        Daily returns (forecast for day t uses the rows before t only).
    dates : iterable of dates
        The days to forecast.
    methods : sequence of str
        The baselines to run, in this order.
    section : mapping
        ``params.yaml``'s ``baselines`` section (see :func:`baseline_config`) and
        optionally ``workers`` (default 1): Dask worker processes, one task per series
        (:func:`~diffrisk.baselines.registry.run_baselines`); the forecasts are
        byte-identical whatever it is; 1 = in process.
    n_scenarios : int
        Scenarios of ``mc_normal`` and ``garch_t``.
    seed : int
        Study seed.
    series : sequence of str, optional
        The columns to forecast (default: every column).

    Returns
    -------
    dict
        ``{method: (frame, ScenarioSet or None)}`` in the order of ``methods``.
    """
    config = baseline_config(methods, section, n_scenarios)
    return run_baselines(
        returns,
        dates,
        list(methods),
        config,
        seed=int(seed),
        series=None if series is None else list(series),
        workers=int(section.get("workers", 1)),
    )
