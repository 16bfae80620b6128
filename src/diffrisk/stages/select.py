"""Stage ``select``.

Nested validation of the DDPM decisions (:mod:`diffrisk.study.selection`): the final
refit, the sampler (DDIM steps × solver order) and the primary method (``ddpm``,
``ddpm_wf`` or ``ddpm_ens``), each scored on ``select_end + 1 … val_end`` after selecting
on ``val_start … select_end``. Writes ``reports/metrics/selection.json`` (read by the
``train``, ``generate``, ``simulate`` and ``coverage`` stages), ``reports/tables/selection.csv``
/ ``.md`` and the rehearsal checkpoints under ``models/rehearsal/``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from diffrisk.core import io, paths
from diffrisk.core.params import parse_list
from diffrisk.core.tables import write_table
from diffrisk.data.splits import Splits
from diffrisk.stages.common import checked_returns
from diffrisk.stages.ddpm_settings import ddpm_config
from diffrisk.study.selection import MARGIN_SE, SelectionSettings, nested_validation

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

    Returns
    -------
    dict
        ``decisions`` (as written to selection.json) and ``scores`` (DataFrame).
    """
    returns, checked = checked_returns(headline, ddpm)
    heads = tuple(checked["data.series"] or [])
    config, tuned = ddpm_config(ddpm, use_tuned, final_refit=False)
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
    )
    decisions, scores = nested_validation(
        returns, splits, config, settings, int(seed), paths.rehearsal_dir()
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
) -> dict[str, Any]:
    """Stage ``select``: :func:`select_ddpm` with its ``dvc.yaml`` parameters."""
    return select_ddpm(
        ddpm=ddpm,
        use_tuned=tune["enabled"],
        **select,
        n_scenarios=n_scenarios,
        sampling={k: generate[k] for k in ("sampler", "eta", "spacing", "noise")},
        headline=data["series"],
        splits=Splits.from_mapping(data),
        seed=seed,
    )
