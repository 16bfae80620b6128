"""``POST /reverse-stress``: the scenarios that break a portfolio.

``GET /reverse-stress`` states what a request may ask (the model's assets and horizon,
the methods and the default ones, the conditioning dates that work, the paths' bounds):
the page builds its form from it. The router reads its model from
``app.state.reverse_stress`` (a :class:`ReverseContext`, set once by :func:`configure`),
answers a request with the chosen methods of
:func:`diffrisk.stress.reverse_study.reverse_stress_methods` (default
:data:`DEFAULT_METHODS`: all but ``vine_copula``, whose fit alone takes ~15 s on 20
assets, beyond the endpoint's 5 s p95 goal; it is answered when requested), and
returns the summary, the most plausible scenario of each method with its loss
attribution, and the audit metadata of the answer (:func:`diffrisk.core.audit.provenance`:
request, seed, data and checkpoint hashes, model version, package version, git revision,
UTC time). A bad request (unreachable L, wrong number of weights, weights not summing to
the stated total, horizon beyond the model's, an unknown method, an ``as_of`` outside the
served dates) is a 422 whose ``detail[0].field`` names the field. The answer states the
horizon and the conditioning date it used (``as_of``: the first day of the scenarios;
``last_history``: the last data row read) and has a row per method used.

The answer's settings (the sectors of the loss attribution, the attribution, the loss
guidance's strength and steps) are the ``reverse_stress`` stage's, read from its record
``models/reverse_stress.json`` (:mod:`diffrisk.stress.reverse_serving`), so the service
answers as the study does; a request may name another ``attribution`` or ``strength``,
and the answer states the settings it used and where they came from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, FastAPI, HTTPException, Request
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from diffrisk.core import audit
from diffrisk.diffusion.weights_hash import model_version, weights_sha256
from diffrisk.service.generators import as_of_bounds
from diffrisk.stress.model import StressModel, load_stress_model
from diffrisk.stress.reverse import (
    ATTRIBUTIONS,
    ReverseStressError,
    check_request,
    loss_contributions,
)
from diffrisk.stress.reverse_score import PathReference, fit_path_reference
from diffrisk.stress.reverse_serving import ReverseServing, library_defaults, read_serving
from diffrisk.stress.reverse_study import METHODS, reverse_stress_methods
from diffrisk.stress.windows import conditioning_position

logger = logging.getLogger(__name__)
router = APIRouter(tags=["reverse stress"])
#: Bounds and default of the number of guided chains / peer draws of a request.
N_PATHS_MIN, N_PATHS_MAX, N_PATHS_DEFAULT = 16, 5000, 300

#: Methods answered when the request names none (the vine peer is slow: on request only).
DEFAULT_METHODS: tuple[str, ...] = tuple(m for m in METHODS if m != "vine_copula")


@dataclass
class ReverseContext:
    """What the endpoint needs: the model, the returns, the reference and the settings.

    ``references`` holds the plausibility reference of each horizon asked so far (the
    windows of ``train``, the training rows; :meth:`reference_for`); ``segments`` are
    ``serving``'s sectors over the model's assets.
    """

    model: StressModel
    returns: pd.DataFrame
    train: NDArray[np.float64]
    serving: ReverseServing
    segments: dict[str, list[str]]
    checkpoint_sha256: str
    data_sha256: str
    as_of_range: tuple[pd.Timestamp, pd.Timestamp]
    references: dict[int, PathReference] = field(default_factory=dict)

    def reference_for(self, horizon: int) -> PathReference:
        """The reference of ``horizon``-day paths (fitted on the training rows once)."""
        if horizon not in self.references:
            self.references[horizon] = fit_path_reference(self.train, horizon)
        return self.references[horizon]


def configure(
    app: FastAPI,
    checkpoint: str | Path,
    returns_file: str | Path,
    record: str | Path | None = None,
) -> ReverseContext:
    """Load the stress model, the returns and the settings for the router into ``app.state``.

    Parameters
    ----------
    app : FastAPI
    checkpoint : path
        ``models/stress.pt``.
    returns_file : path
        Parquet of daily log returns holding (at least) the model's assets as columns.
    record : path or None
        The ``reverse_stress`` stage's record of its settings (``models/reverse_stress.json``,
        :func:`~diffrisk.stress.reverse_serving.read_serving`: refused when chosen for other
        weights than ``checkpoint``'s); None: the library defaults (one segment per asset).

    Raises
    ------
    ValueError
        Naming the returns file when it lacks the model's assets, or the record's file
        and field when it is unusable.
    """
    checkpoint_sha = weights_sha256(checkpoint)
    model = load_stress_model(checkpoint)
    frame = pd.read_parquet(returns_file)
    missing = [a for a in model.assets if a not in frame.columns]
    if missing:
        raise ValueError(f"{returns_file} lacks the model's assets {missing}")
    returns = frame[model.assets].dropna()
    cfg = model.config
    min_history = max(int(cfg.history), int(cfg.ewma_warmup))
    train = returns.loc[returns.index <= pd.Timestamp(model.train_end)].to_numpy(dtype=float)
    serving = (
        library_defaults() if record is None else read_serving(record, model.assets, checkpoint_sha)
    )
    context = ReverseContext(
        model=model,
        returns=returns,
        train=train,
        serving=serving,
        segments=serving.segments(model.assets),
        checkpoint_sha256=checkpoint_sha,
        data_sha256=audit.frame_sha256(returns),
        as_of_range=as_of_bounds(returns.index, min_history),
    )
    context.reference_for(int(model.config.horizon))  # the default horizon's, at start-up
    logger.info(
        "reverse stress: %d segments, attribution %s, strength %g (%s)",
        len(context.segments),
        serving.attribution,
        serving.strength,
        serving.source,
    )
    app.state.reverse_stress = context
    return context


class ReverseStressRequest(BaseModel):
    """A reverse stress request: weights over the model's assets and a loss level."""

    weights: list[float] = Field(description="exposure per asset, in the model's asset order")
    horizon: int | None = Field(None, description="days (default and maximum: the model's)")
    loss: float | None = Field(None, description="loss level L, a fraction of the exposure")
    es_alpha: float | None = Field(None, description="or L = the model's ES at this level")
    total: float | None = Field(None, description="stated sum of the weights (checked)")
    as_of: str | None = Field(None, description="first day of the scenarios (default: next)")
    n_paths: int = Field(N_PATHS_DEFAULT, ge=N_PATHS_MIN, le=N_PATHS_MAX)
    seed: int = Field(0, ge=0)
    methods: list[str] = Field(
        default_factory=lambda: list(DEFAULT_METHODS),
        description=f"subset of {list(METHODS)} (default: all but vine_copula, slow)",
    )
    attribution: str | None = Field(
        None, description=f"leading-sector estimate, one of {list(ATTRIBUTIONS)} (default: served)"
    )
    strength: float | None = Field(
        None, description="loss guidance strength in [0, 1] (default: served)"
    )


def _bad(field: str, message: str, allowed: str | None = None) -> HTTPException:
    loc = ["body", field]
    item: dict[str, Any] = {"field": ".".join(loc), "loc": loc, "msg": message}
    if allowed is not None:
        item["allowed"] = allowed
    return HTTPException(422, detail=[item])


def _context(request: Request) -> ReverseContext:
    context: ReverseContext | None = getattr(request.app.state, "reverse_stress", None)
    if context is None:
        raise HTTPException(503, detail="reverse stress is not configured on this server")
    return context


def _resolve_as_of(context: ReverseContext, as_of: str | None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first day of the scenarios and the last row read, for a requested ``as_of``.

    Raises
    ------
    ReverseStressError
        ``as_of`` is not a date or lies outside :attr:`ReverseContext.as_of_range`.
    """
    index = context.returns.index
    first, last = context.as_of_range
    if not as_of:
        return last, index[-1]
    try:
        stamp = pd.Timestamp(as_of)
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if pd.isna(stamp) or stamp.tzinfo is not None:
        raise ReverseStressError("as_of", f"{as_of!r} is not a date (YYYY-MM-DD)")
    if not first <= stamp <= last:
        raise ReverseStressError(
            "as_of",
            f"as_of {stamp.date()} is outside the served dates (the model needs its history "
            "before the date; the latest date is the day after the last data row)",
        )
    s = conditioning_position(index, stamp)
    return (index[s] if s < len(index) else stamp), index[s - 1]


@router.get("/reverse-stress")
def reverse_stress_options(request: Request) -> dict[str, Any]:
    """What a request may ask: assets, horizon, methods, conditioning dates, paths."""
    context = _context(request)
    model = context.model
    methods = ReverseStressRequest.model_fields["methods"]
    return {
        "assets": list(model.assets),
        "horizon": int(model.config.horizon),
        "methods": list(METHODS),
        "default_methods": methods.get_default(call_default_factory=True),
        "as_of_range": [str(d.date()) for d in context.as_of_range],
        "n_paths": {"min": N_PATHS_MIN, "max": N_PATHS_MAX, "default": N_PATHS_DEFAULT},
        "attributions": list(ATTRIBUTIONS),
        "settings": _settings(context, context.serving),
        "model_version": model_version("stress", model.train_end, context.checkpoint_sha256),
    }


def _settings(context: ReverseContext, serving: ReverseServing) -> dict[str, Any]:
    """The settings an answer uses, with the sectors and where the defaults come from."""
    return {
        "attribution": serving.attribution,
        "strength": serving.strength,
        "defensive": serving.defensive,
        "n_steps": serving.n_steps,
        "segments": context.segments,
        "source": serving.source,
    }


def _chosen(context: ReverseContext, body: ReverseStressRequest) -> ReverseServing:
    """The served settings with the request's attribution and strength (422 naming a bad one)."""
    allowed = {"attribution": ", ".join(ATTRIBUTIONS), "strength": "0 .. 1"}
    serving = context.serving
    given = {"attribution": body.attribution, "strength": body.strength}
    given = {name: value for name, value in given.items() if value is not None}
    for name, value in given.items():
        try:
            serving = replace(serving, **{name: value})
        except ValueError as exc:
            raise _bad(name, str(exc), allowed[name]) from None
    if given:
        serving = replace(serving, source=f"{serving.source}; {', '.join(given)} from the request")
    return serving


@router.post("/reverse-stress")
def reverse_stress_endpoint(body: ReverseStressRequest, request: Request) -> dict[str, Any]:
    """Scenarios reaching the loss, their plausibility and ``P(loss >= L)``, per method."""
    context = _context(request)
    model = context.model
    unknown = sorted(set(body.methods) - set(METHODS))
    if unknown or not body.methods:
        what = f"unknown methods {unknown}" if unknown else "no method chosen"
        raise _bad("methods", f"{what}; expected a subset of {list(METHODS)}", ", ".join(METHODS))
    serving = _chosen(context, body)
    h_max = int(model.config.horizon)
    try:
        checked = check_request(
            body.weights,
            len(model.assets),
            h_max if body.horizon is None else body.horizon,
            h_max,
            loss=body.loss,
            es_alpha=body.es_alpha,
            total=body.total,
        )
        if checked.loss is None and "diffusion" not in body.methods:
            raise ReverseStressError("es_alpha", "es_alpha needs the diffusion method; give loss")
        first_day, last_history = _resolve_as_of(context, body.as_of)
        as_of = pd.Timestamp(body.as_of) if body.as_of else None
        results, summary = reverse_stress_methods(
            model,
            context.returns,
            checked,
            as_of=as_of,
            reference=context.reference_for(checked.horizon),
            segments=context.segments,
            n_paths=body.n_paths,
            diffusion_options=serving.diffusion_options(),
            methods=body.methods,
            seed=body.seed,
            attribution=serving.attribution,
        )
    except ReverseStressError as exc:
        allowed = " .. ".join(str(d.date()) for d in context.as_of_range)
        raise _bad(exc.field, exc.message, allowed if exc.field == "as_of" else None) from None
    if "diffusion" in results and len(results["diffusion"].loss) == 0:
        raise _bad("loss", f"no guided path of {body.n_paths} reached the loss: unreachable")
    scenarios = {}
    for name, res in results.items():
        if len(res.loss) == 0:
            continue
        contrib = loss_contributions(res.scenarios[:1], checked.weights, checked.horizon)[0]
        scenarios[name] = {
            "returns": np.round(res.scenarios[0], 8).tolist(),
            "loss": float(res.loss[0]),
            "plausibility": float(res.metadata["plausibility"]["plausibility"].iloc[0]),
            "contributions": dict(zip(model.assets, contrib.round(8).tolist(), strict=True)),
        }
    version = model_version("stress", model.train_end, context.checkpoint_sha256)
    settings = _settings(context, serving)
    record = audit.provenance(
        params=body.model_dump(),
        seed=body.seed,
        data_hash=context.data_sha256,
        extra={
            "generator": "reverse_stress",
            "checkpoint_sha256": context.checkpoint_sha256,
            "model_version": version,
            "assets": list(model.assets),
            "loss_level": float(summary["loss_level"].iloc[0]),
            "settings": settings,
            "diffusion": {
                k: v
                for k, v in results["diffusion"].metadata.items()
                if k not in ("log_weight", "plausibility")
            }
            if "diffusion" in results
            else None,
        },
    )
    table = summary.astype(object).where(summary.notna(), None)
    return {
        "loss_level": float(summary["loss_level"].iloc[0]),
        "horizon": checked.horizon,
        "as_of": str(first_day.date()),
        "last_history": str(last_history.date()),
        "assets": list(model.assets),
        "methods": table.to_dict(orient="records"),
        "settings": settings,
        "most_plausible": scenarios,
        "audit": record,
    }
