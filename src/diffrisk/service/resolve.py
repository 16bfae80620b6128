"""From a validated request to a resolved draw, and from paths to the portfolio summary.

:func:`resolve_request` checks the ranges that depend on the served model (404 for an
unknown generator, version or archetype; 422 for a horizon beyond the model's, too many
paths, conditioning dates outside the data, bad weights) and fills every default, so that
the resolved request (hashed into the set id) names everything the paths depend on.
:func:`summarise` computes the risk summary with :func:`diffrisk.risk.portfolio.risk_summary`
(VaR, ES and conditional drawdown at risk) and the fan-chart quantiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.core import audit
from diffrisk.risk.portfolio import portfolio_log_returns, risk_summary
from diffrisk.service.generators import Generator, Registry
from diffrisk.service.records import Draw
from diffrisk.service.schemas import SUMMARY_ALPHAS, RequestError, ScenarioRequest
from diffrisk.stress.config import UNCONDITIONAL
from diffrisk.stress.signatures import out_of_range
from diffrisk.stress.windows import conditioning_position

#: Quantiles of the fan chart (cumulative portfolio log return per day).
FAN_LEVELS: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)

#: ``conditioning_gain`` of a resolved GAN/VAE request whose gain is calibrated when it is
#: drawn (the gain itself is in the set's ``conditioning`` record).
PER_REQUEST = "calibrated per request"


@dataclass(frozen=True)
class Resolved:
    """A request with every default filled.

    Attributes
    ----------
    generator : Generator
    draw : Draw
    horizon : int
    weights : ndarray (n_assets,)
    canonical : dict
        Everything the paths and summary depend on (hashed into the set id).
    guidance_source : str
        Where the guidance weight (diffusion) or the conditioning gain (GAN, VAE) came from.
    archetype_source : str or None
    out_of_range : list of str
        Signature components outside the range of the training windows.
    """

    generator: Generator
    draw: Draw
    horizon: int
    weights: NDArray[np.float64]
    canonical: dict[str, Any]
    guidance_source: str
    archetype_source: str | None
    out_of_range: list[str]


def _weights(req: ScenarioRequest, assets: list[str]) -> NDArray[np.float64]:
    if req.weights is None:
        return np.full(len(assets), 1.0 / len(assets))
    unknown = sorted(set(req.weights) - set(assets))
    if unknown:
        raise RequestError(
            422,
            "body.weights",
            f"weights name unknown assets {unknown[:10]}",
            f"asset names: {', '.join(assets)}",
        )
    w = np.array([float(req.weights.get(a, 0.0)) for a in assets])
    if not np.all(np.isfinite(w)):
        raise RequestError(422, "body.weights", "weights must be finite numbers", "finite")
    if not math.isclose(float(w.sum()), 1.0, abs_tol=1e-6):
        raise RequestError(
            422,
            "body.weights",
            f"weights must sum to 1, got {w.sum():.6g}",
            "sum of weights = 1 (within 1e-6)",
        )
    return w


def _as_of(req_date: Any, default: str | None, registry: Registry) -> str:
    first, last = registry.as_of_range()
    allowed = f"{first.date()} .. {last.date()}"
    chosen = req_date if req_date is not None else default
    stamp = pd.Timestamp(chosen) if chosen not in (None, "") else last
    if not first <= stamp <= last:
        field = "body.as_of" if req_date is not None else "body.archetype"
        what = "as_of" if req_date is not None else f"the archetype's conditioning date {chosen}"
        raise RequestError(
            422,
            field,
            f"{what} is outside the data (the model needs {registry.min_history} days of "
            "history; the latest date is the day after the last data row)",
            allowed,
        )
    return str(stamp.date())


def _history_sha256(registry: Registry, position: int) -> str:
    """SHA-256 of the conditioning history (rows before ``position``), memoised per registry."""
    cache: dict[int, str] = registry.__dict__.setdefault("_history_sha256", {})
    if position not in cache:
        if len(cache) > 4096:
            cache.clear()
        cache[position] = audit.frame_sha256(registry.returns.iloc[:position])
    return cache[position]


def resolve_request(
    req: ScenarioRequest, registry: Registry, max_paths: int, default_guidance: float
) -> Resolved:
    """Check ``req`` against the served model and fill its defaults.

    Raises
    ------
    RequestError
        404 for an unknown generator, version or archetype; 422 for out-of-range values.
    """
    try:
        gen = registry.get(req.generator, req.model_version)
    except KeyError as exc:
        field = (
            "body.generator" if req.generator not in registry.generators else "body.model_version"
        )
        if field == "body.generator":
            raise RequestError.not_one_of(
                404, field, str(exc.args[0]), registry.generators
            ) from None
        allowed = ", ".join(["latest", *(g.version for g in registry.generators[req.generator])])
        raise RequestError(404, field, str(exc.args[0]), allowed) from None
    horizon = gen.horizon if req.horizon is None else int(req.horizon)
    if horizon > gen.horizon:
        raise RequestError(
            422,
            "body.horizon",
            f"horizon {horizon} is beyond the model's horizon of {gen.horizon} days",
            f"2 .. {gen.horizon}",
        )
    if req.n_paths > max_paths:
        raise RequestError(
            422,
            "body.n_paths",
            f"n_paths {req.n_paths} is above the service limit",
            f"1 .. {max_paths}",
        )
    archetype = req.archetype or (None if req.signature is not None else UNCONDITIONAL)
    record = None
    if archetype is not None:
        if archetype not in registry.archetypes:
            raise RequestError.not_one_of(
                404, "body.archetype", f"unknown archetype {archetype!r}", registry.archetypes
            )
        record = registry.archetypes[archetype]
    if req.signature is not None and not gen.conditioned:
        raise RequestError(
            422,
            "body.signature",
            f"generator {gen.name!r} does not condition on a signature",
            "signature only with a conditioned generator (diffusion, gan, vae); "
            "use an archetype or none",
        )
    if req.guidance is not None and not gen.guided:
        raise RequestError(
            422, "body.guidance", f"generator {gen.name!r} takes no guidance weight", "null"
        )
    as_of = _as_of(req.as_of, record.as_of if record else None, registry)
    weights = _weights(req, gen.assets)
    signature: dict[str, float] = {}
    guidance, source, prior = None, "none (unguided generator)", 0
    if gen.conditioned:
        signature = req.signature.values() if req.signature is not None else dict(record.signature)
        prior = 0 if signature or record is None else record.prior_neighbours
    gain: float | None = 1.0
    if gen.guided:
        if req.guidance is not None:
            guidance, source = float(req.guidance), "request"
        elif record is not None:
            guidance, source = record.guidance, f"pipeline-calibrated for archetype {record.name!r}"
        else:
            guidance, source = float(default_guidance), "service default for explicit signatures"
    elif gen.conditioned and signature:
        if req.signature is None and gen.name in record.gains:
            gain = record.gains[gen.name]
            source = f"conditioning gain pipeline-calibrated for archetype {record.name!r}"
        elif gen.info.get("gain_calibration"):
            gain = None
            source = "conditioning gain calibrated for this request by the pipeline's rule"
        else:
            source = "conditioning gain 1 (the pipeline did not calibrate this generator)"
    bounds = gen.info.get("signature_range")
    flagged = out_of_range(signature, pd.DataFrame(bounds).T) if signature and bounds else []
    position = conditioning_position(registry.returns.index, as_of)
    canonical = {
        "generator": gen.name,
        "model_version": gen.version,
        "archetype": archetype,
        "signature": signature,
        "as_of": as_of,
        "horizon": horizon,
        "n_paths": int(req.n_paths),
        "seed": int(req.seed),
        "weights": {a: float(x) for a, x in zip(gen.assets, weights, strict=True)},
        "guidance": guidance,
        "conditioning_gain": (
            (PER_REQUEST if gain is None else gain) if gen.conditioned and not gen.guided else None
        ),
        "prior_neighbours": prior,
        "history_sha256": _history_sha256(registry, position),
    }
    draw = Draw(signature, as_of, int(req.n_paths), int(req.seed), guidance, prior, gain)
    return Resolved(
        generator=gen,
        draw=draw,
        horizon=horizon,
        weights=weights,
        canonical=canonical,
        guidance_source=source,
        archetype_source=record.source if record else None,
        out_of_range=flagged,
    )


def summarise(
    paths_: NDArray[np.floating], weights: NDArray[np.float64]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Risk summary rows (per alpha of :data:`SUMMARY_ALPHAS`) and fan-chart quantiles.

    Returns
    -------
    rows : list of dict
        ``alpha, n_paths, mean_return, var, es, cdar`` of the horizon log return of the
        portfolio (:func:`diffrisk.risk.portfolio.risk_summary`).
    fan : dict
        ``levels`` and ``quantiles`` (one list per level, days 0..H) of the cumulative
        portfolio log return.
    """
    table = risk_summary(paths_, {"portfolio": weights}, SUMMARY_ALPHAS)
    rows = table.drop(columns=["portfolio"]).to_dict(orient="records")
    daily = portfolio_log_returns(np.asarray(paths_, dtype=float), weights)
    cum = np.concatenate([np.zeros((daily.shape[0], 1)), np.cumsum(daily, axis=1)], axis=1)
    q = np.quantile(cum, FAN_LEVELS, axis=0)
    fan = {"levels": list(FAN_LEVELS), "quantiles": [[float(x) for x in row] for row in q]}
    return rows, fan
