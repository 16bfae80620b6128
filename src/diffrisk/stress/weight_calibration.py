"""One rule for the per-request calibration of a generator's conditioning weight.

Every conditional generator of the stress comparison has one scalar that sets how hard it
pushes toward the requested signature: the diffusion model's classifier-free guidance
weight (:func:`diffrisk.stress.scenario_sets.calibrate_guidance`) and the GAN's and VAE's
conditioning gain (:func:`diffrisk.stress.comparison_sets.comparison_scenario_set`). Both
are chosen per request by :func:`calibrate_weight`: the same grid, the same pilot paths,
the same seed rule and the same score, so that the comparison gives every generator the
same budget.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.core.params import parse_list
from diffrisk.stress.signatures import out_of_range, stress_signature

logger = logging.getLogger(__name__)

DEFAULT_GUIDANCE_GRID: tuple[float, ...] = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
"""Default candidate weights (guidance weights and conditioning gains)."""

PilotDraw = Callable[[float], tuple[NDArray[np.floating], pd.DataFrame]]
"""``weight -> (pilot paths, dates)``: the pilot set drawn with one candidate weight, its
rows grouped by conditioning date as in :func:`~diffrisk.stress.sampling.generate_paths`,
``dates`` with each date's ``portfolio_vol``."""


def check_weight_grid(grid: str | Sequence[float], name: str = "guidance grid") -> list[float]:
    """The candidate weights of ``grid`` in increasing order.

    Parameters
    ----------
    grid : str or sequence of float
        Candidate weights, or a parameter's comma-separated text of them
        (``"1, 1.5, 2"``, items as in :func:`~diffrisk.core.params.parse_list`).
    name : str
        How the error message names the parameter.

    Returns
    -------
    list of float

    Raises
    ------
    ValueError
        If ``grid`` is empty or holds an item that is not a number, a negative or a
        non-finite weight.
    """
    weights = []
    for item in parse_list(grid) if isinstance(grid, str) else grid:
        try:
            weights.append(float(item))
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not a number, got {grid!r}") from None
    weights.sort()
    if not weights or any(w < 0 or not math.isfinite(w) for w in weights):
        given = grid if isinstance(grid, str) else list(grid)
        raise ValueError(f"{name} must hold finite weights >= 0, got {given!r}")
    return weights


def calibrate_weight(
    draw: PilotDraw,
    signature: Mapping[str, float],
    bounds: pd.DataFrame,
    grid: Sequence[float],
    *,
    n_paths_per_date: int,
    seed: int,
    name: str = "guidance",
    grid_name: str = "guidance grid",
) -> tuple[float, dict[str, Any]]:
    """The grid weight whose pilot set comes closest to the requested signature.

    For each weight of ``grid`` (increasing) the pilot set ``draw(weight)`` is scored by
    the largest relative error ``|mean achieved - requested| / |requested|`` of its mean
    signature (each path measured with its own date's volatility forecast) over the
    requested components inside ``bounds`` (all components if none is); the smallest
    score wins, ties going to the smaller weight. The rule sees only the pilot paths and
    the request: whatever ``draw`` reads decides what the choice may leak.

    Parameters
    ----------
    draw : callable
        ``weight -> (paths, dates)`` (:data:`PilotDraw`), ``n_paths_per_date`` paths per
        row of ``dates``.
    signature : mapping of str to float
        The request (an empty one returns weight 0 without drawing).
    bounds : DataFrame
        Training range of the signatures (:func:`~diffrisk.stress.signatures.signature_range`).
    grid : sequence of float
        Candidate weights (finite, >= 0).
    n_paths_per_date : int
        Pilot paths per conditioning date.
    seed : int
        Seed of the pilot sets (recorded; ``draw`` uses it).
    name, grid_name : str
        The weight's name in the log and the grid's name in the error message.

    Returns
    -------
    weight : float
    record : dict
        ``grid``, ``score`` (per weight), ``components`` scored, ``n_paths_per_date``,
        ``seed``: what the metadata keeps.

    Raises
    ------
    ValueError
        If the grid is empty or holds a negative or non-finite weight (names ``grid_name``).
    """
    request = {k: float(v) for k, v in signature.items()}
    weights = check_weight_grid(grid, grid_name)
    if not request:
        return 0.0, {"grid": weights, "score": [], "components": [], "seed": int(seed)}
    outside = set(out_of_range(request, bounds))
    scored = [c for c in request if c not in outside] or list(request)
    scores = []
    for w in weights:
        pilot, dates = draw(w)
        achieved = stress_signature(
            pilot, np.repeat(dates["portfolio_vol"].to_numpy(), n_paths_per_date)
        ).mean()
        scores.append(
            max(abs(achieved[c] - request[c]) / max(abs(request[c]), 1e-12) for c in scored)
        )
        logger.info("%s %.2f: largest relative error %.3f", name, w, scores[-1])
    best = int(np.argmin(scores))
    if len(weights) > 1 and best == len(weights) - 1:
        logger.warning(
            "%s %.2f is the top of the %s: the best weight may lie above it (extend the grid)",
            name,
            weights[best],
            grid_name,
        )
    record = {
        "grid": weights,
        "score": [float(x) for x in scores],
        "components": scored,
        "n_paths_per_date": int(n_paths_per_date),
        "seed": int(seed),
    }
    return weights[best], record
