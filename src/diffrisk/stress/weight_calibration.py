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

from diffrisk.core.checks import check_int
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
    refine: int = 0,
) -> tuple[float, dict[str, Any]]:
    """The weight whose pilot set comes closest to the requested signature.

    For each weight of ``grid`` (increasing) the pilot set ``draw(weight)`` is scored by
    the largest relative error ``|mean achieved - requested| / |requested|`` of its mean
    signature (each path measured with its own date's volatility forecast) over the
    requested components inside ``bounds`` (all components if none is); the smallest
    score wins, ties going to the smaller weight. The rule sees only the pilot paths and
    the request: whatever ``draw`` reads decides what the choice may leak.

    ``refine > 0`` then searches between the best grid weight's neighbours
    (:func:`refinement_weight`): ``refine`` more pilot sets, each at the midpoint of the
    wider of the two intervals next to the best weight evaluated so far; the best of all
    evaluated weights wins (ties to the smaller). A grid coarse enough that no grid weight
    brings a component within the steering tolerance of 10 % is refined this way: for a
    score that falls and then rises around its minimum (one component: ``|w - w*|``-shaped)
    each extra pilot halves one side of the bracket around the best weight.

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
    refine : int, default 0
        Extra pilot sets searching between the best grid weight's neighbours (0: the grid
        only, exactly the rule without the option).

    Returns
    -------
    weight : float
    record : dict
        ``grid``, ``score`` (per weight), ``components`` scored, ``n_paths_per_date``,
        ``seed``: what the metadata keeps; with ``refine > 0`` also ``refined``, the
        ``[weight, score]`` pairs of the extra pilots in the order drawn.

    Raises
    ------
    ValueError
        If the grid is empty or holds a negative or non-finite weight (names ``grid_name``),
        or ``refine`` is negative or not an integer.
    """
    request = {k: float(v) for k, v in signature.items()}
    weights = check_weight_grid(grid, grid_name)
    refine = check_int(refine, "refine (extra pilot sets)", 0)
    if not request:
        return 0.0, {"grid": weights, "score": [], "components": [], "seed": int(seed)}
    outside = set(out_of_range(request, bounds))
    scored = [c for c in request if c not in outside] or list(request)
    label = ", ".join(f"{c}={request[c]:.4g}" for c in request)  # names the request in the log

    def score(w: float) -> float:
        pilot, dates = draw(w)
        achieved = stress_signature(
            pilot, np.repeat(dates["portfolio_vol"].to_numpy(), n_paths_per_date)
        ).mean()
        value = max(abs(achieved[c] - request[c]) / max(abs(request[c]), 1e-12) for c in scored)
        logger.info("%s %.4g for %s: largest relative error %.3f", name, w, label, value)
        return float(value)

    scores = [score(w) for w in weights]
    best = int(np.argmin(scores))
    if len(weights) > 1 and best == len(weights) - 1:
        logger.warning(
            "%s %.2f is the top of the %s for %s: the best weight may lie above it (extend "
            "the grid)",
            name,
            weights[best],
            grid_name,
            label,
        )
    record = {
        "grid": weights,
        "score": [float(x) for x in scores],
        "components": scored,
        "n_paths_per_date": int(n_paths_per_date),
        "seed": int(seed),
    }
    if not refine or len(weights) == 1:
        return weights[best], record
    lo, hi = weights[max(best - 1, 0)], weights[min(best + 1, len(weights) - 1)]
    evaluated = {w: s for w, s in zip(weights, scores, strict=True) if lo <= w <= hi}
    refined: list[list[float]] = []
    for _ in range(int(refine)):
        w = refinement_weight(evaluated)
        if w is None:
            break
        evaluated[w] = score(w)
        refined.append([w, evaluated[w]])
    record["refined"] = refined
    return min(sorted(evaluated), key=lambda w: evaluated[w]), record


def refinement_weight(evaluated: Mapping[float, float]) -> float | None:
    """The next weight of the refinement search of :func:`calibrate_weight`.

    The best evaluated weight ``b`` (smallest score, ties to the smaller weight) and its
    evaluated neighbours ``l < b < r``: the midpoint of the wider of ``[l, b]`` and
    ``[b, r]``; of two equally wide intervals the one whose neighbour scores lower (the
    minimum is more likely on that side), then the lower one. A best weight at an end of
    the evaluated range has only one interval.

    Parameters
    ----------
    evaluated : mapping of float to float
        Weights evaluated so far and their scores (at least two weights).

    Returns
    -------
    float or None
        The weight to evaluate next; None if the intervals have shrunk to nothing
        (narrower than ``1e-6 max(1, |best|)``).

    Examples
    --------
    >>> refinement_weight({1.5: 0.20, 2.0: 0.12, 2.5: 0.41})
    1.75
    >>> refinement_weight({1.5: 0.20, 1.75: 0.03, 2.0: 0.12})
    1.875
    """
    ws = sorted(evaluated)
    b = min(ws, key=lambda w: evaluated[w])
    i = ws.index(b)
    sides = []  # (width, neighbour score, lower side first, midpoint)
    if i > 0:
        sides.append((b - ws[i - 1], evaluated[ws[i - 1]], 0, 0.5 * (ws[i - 1] + b)))
    if i < len(ws) - 1:
        sides.append((ws[i + 1] - b, evaluated[ws[i + 1]], 1, 0.5 * (b + ws[i + 1])))
    width, _, _, mid = min(sides, key=lambda s: (-s[0], s[1], s[2]))
    if width <= 1e-6 * max(1.0, abs(b)):
        return None
    return float(mid)
