"""Stage ``select``.

Nested validation of the DDPM decisions (:mod:`diffrisk.study.selection`): the final
refit, the sampler (DDIM steps × solver order) and the primary method (``ddpm``,
``ddpm_wf``, ``ddpm_ens`` or, with ``select.combinations``, a combination of one of them
with a classical peer as listed in ``calibrate.combine``), each scored on
``select_end + 1 … val_end`` after selecting on ``val_start … select_end``. Writes
``reports/metrics/selection.json`` (read by the ``train``, ``generate``, ``simulate`` and
``coverage`` stages), ``reports/tables/selection.csv`` / ``.md`` and the rehearsal
checkpoints under ``models/rehearsal/``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from diffrisk.baselines.combination import parse_pairs
from diffrisk.baselines.registry import BASELINE_METHODS
from diffrisk.core import io, paths
from diffrisk.core.params import parse_list
from diffrisk.core.tables import write_table
from diffrisk.data.splits import Splits
from diffrisk.stages.baseline_settings import period_baselines
from diffrisk.stages.common import checked_returns
from diffrisk.stages.ddpm_settings import ddpm_config
from diffrisk.study.selection import (
    MARGIN_SE,
    PRIMARY_CANDIDATES,
    SelectionSettings,
    nested_validation,
    rehearsal_period,
)

logger = logging.getLogger(__name__)


def select_ddpm(
    *,
    ddpm: Mapping[str, Any],
    use_tuned: bool,
    members: int,
    workers: int,
    n_steps_grid: str,
    order_grid: str,
    frequency: str,
    wf_epochs: int,
    n_scenarios: int,
    sampling: Mapping[str, Any],
    headline: str,
    splits: Splits,
    seed: int,
    margin_se: float = MARGIN_SE,
    combinations: bool = False,
    combine: str = "",
    combination_weight: float = 0.5,
    baselines: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the ``select`` stage: nested validation of refit, sampler and primary method.

    Parameters
    ----------
    ddpm : mapping
        The ``ddpm`` section (``final_refit`` is decided here, whatever it says).
    use_tuned : bool
        Apply the tune stage's best parameters (``tune.enabled``).
    members, workers, n_steps_grid, order_grid, frequency, wf_epochs
        The ``select`` section (see :class:`~diffrisk.study.selection.SelectionSettings`;
        grids are comma-separated).
    n_scenarios : int
        Scenarios per day.
    sampling : mapping
        ``sampler``, ``eta``, ``spacing``, ``noise`` of the ``generate`` section.
    headline : str
        Comma-separated headline series (``data.series``), the scored ones.
    splits : Splits
        With ``select_end`` (``data.select_end``).
    seed : int
    margin_se : float, default 1.0
        ``select.margin_se``: a more complex primary method must beat the simpler one by
        more than this many (HAC) standard errors of its validation FZ0 gain.
    combinations : bool, default False
        ``select.combinations``: the pairs of ``combine`` whose first member is a DDPM
        candidate (``ddpm``, ``ddpm_wf``, ``ddpm_ens``) are primary candidates too.
    combine : str, default ""
        ``calibrate.combine``, comma-separated ``first:peer`` pairs; a peer must be a
        baseline.
    combination_weight : float, default 0.5
        ``calibrate.fallback_weight``: the weight of the DDPM member (the one the
        ``calibrate`` stage gives a DDPM pair).
    baselines : mapping, optional
        The ``baselines`` section: the peers' settings (needed with combinations),
        ``workers`` included.

    Returns
    -------
    dict
        ``decisions`` (as written to selection.json) and ``scores`` (DataFrame).
    """
    returns, checked = checked_returns(headline, ddpm)
    heads = tuple(checked["data.series"] or [])
    config, tuned = ddpm_config(ddpm, use_tuned, final_refit=False)
    pairs = [p for p in parse_pairs(combine) if p[0] in PRIMARY_CANDIDATES] if combinations else []
    peer_methods = sorted({peer for _, peer in pairs})
    unknown = [m for m in peer_methods if m not in BASELINE_METHODS]
    if unknown:
        raise ValueError(
            f"calibrate.combine pairs a DDPM candidate with {unknown}, not baselines; the "
            f"select stage forecasts only {list(BASELINE_METHODS)} (or set "
            f"select.combinations: false)"
        )
    settings = SelectionSettings(
        members=int(members),
        workers=int(workers),
        n_steps_grid=tuple(int(x) for x in parse_list(n_steps_grid)),
        order_grid=tuple(int(x) for x in parse_list(order_grid)),
        frequency=str(frequency),
        wf_epochs=int(wf_epochs),
        n_scenarios=int(n_scenarios),
        sampling=dict(sampling),
        headline=heads,
        margin_se=float(margin_se),
        combinations=tuple(pairs),
        combination_weight=float(combination_weight),
    )
    peers = {}
    if peer_methods:
        data, dates = rehearsal_period(returns, splits)
        logger.info("select: rehearsal forecasts of the peers %s", peer_methods)
        results = period_baselines(
            data, dates, peer_methods, baselines or {}, int(n_scenarios), int(seed), heads
        )
        peers = {m: frame for m, (frame, _) in results.items()}
    decisions, scores = nested_validation(
        returns, splits, config, settings, int(seed), paths.rehearsal_dir(), peers=peers
    )
    decisions["tuned_params"] = tuned
    write_table(scores, "selection")
    io.write_json(paths.selection_file(), decisions, digits=4)
    return {"decisions": decisions, "scores": scores}


def run(
    *,
    seed: int,
    n_scenarios: int,
    data: Mapping[str, Any],
    tune: Mapping[str, Any],
    ddpm: Mapping[str, Any],
    generate: Mapping[str, Any],
    select: Mapping[str, Any],
    calibrate: Mapping[str, Any],
    baselines: Mapping[str, Any],
) -> dict[str, Any]:
    """Stage ``select``: :func:`select_ddpm` with its ``dvc.yaml`` parameters."""
    return select_ddpm(
        ddpm=ddpm,
        use_tuned=tune["enabled"],
        **select,
        combine=calibrate["combine"],
        combination_weight=calibrate["fallback_weight"],
        baselines=baselines,
        n_scenarios=n_scenarios,
        sampling={k: generate[k] for k in ("sampler", "eta", "spacing", "noise")},
        headline=data["series"],
        splits=Splits.from_mapping(data),
        seed=seed,
    )
