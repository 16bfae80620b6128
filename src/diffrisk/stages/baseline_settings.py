"""The baselines' settings as the stages give them, from ``params.yaml``'s ``baselines``.

The ``baselines`` stage forecasts the test days and the ``calibrate`` stage the
validation days with the same settings; :func:`baseline_config` is the one place that
turns the section into :func:`~diffrisk.baselines.registry.run_baselines`' ``config``.
(A module of its own rather than :mod:`diffrisk.stages.common`, so that the stages that do
not run baselines do not depend on :mod:`diffrisk.baselines`.)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from diffrisk.baselines.registry import SCENARIO_FREE_METHODS


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
    refits = {
        "refit_every": int(section["refit_every"]),
        "min_obs": int(section["min_obs"]),
        "max_obs": int(section["max_obs"]) or None,
    }
    window = int(section["window"])
    config = {
        "hs": {"window": window},
        "mc_normal": {"window": window, "n_scenarios": int(n_scenarios)},
        "garch_t": {**refits, "n_scenarios": int(n_scenarios)},
        "fhs": {**refits, "n_scenarios": int(section["fhs_residuals"])},
        # the FZ0 peers: same refit cadence and rolling window as garch_t / fhs
        **{m: dict(refits) for m in sorted(SCENARIO_FREE_METHODS)},
    }
    return {m: c for m, c in config.items() if m in methods}
