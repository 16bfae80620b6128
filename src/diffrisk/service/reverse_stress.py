"""``POST /reverse-stress``: the scenarios that break a portfolio (issue 21).

The router reads its model from ``app.state.reverse_stress`` (a :class:`ReverseContext`,
set once by :func:`configure`), answers a request with the methods of
:func:`diffrisk.stress.reverse_study.reverse_stress_methods` it names (default
:data:`DEFAULT_METHODS`: all but ``vine_copula``, whose fit alone takes ~15 s on 20
assets, beyond the endpoint's 5 s p95 goal; it is answered when requested), and returns
the summary, the most plausible scenario of each method with its loss attribution, and
the audit metadata of the answer (:func:`diffrisk.core.audit.provenance`: request, seed, data and
checkpoint hashes, model version, package version, git revision, UTC time). A bad request
(unreachable L, wrong number of weights, weights not summing to the stated total, horizon
beyond the model's, an unknown method) is a 422 whose ``detail[0].field`` names the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from diffrisk.core import audit
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stress.config import parse_segments
from diffrisk.stress.model import StressModel, load_stress_model, model_version
from diffrisk.stress.reverse import ReverseStressError, check_request, loss_contributions
from diffrisk.stress.reverse_score import PathReference, fit_path_reference
from diffrisk.stress.reverse_study import METHODS, reverse_stress_methods

router = APIRouter(tags=["reverse stress"])

#: Methods answered when the request names none (the vine peer is slow: on request only).
DEFAULT_METHODS: tuple[str, ...] = tuple(m for m in METHODS if m != "vine_copula")


@dataclass
class ReverseContext:
    """What the endpoint needs: the model, the returns, the reference and the sectors."""

    model: StressModel
    returns: pd.DataFrame
    reference: PathReference
    segments: dict[str, list[str]]
    checkpoint_sha256: str
    data_sha256: str


def configure(
    app: FastAPI, checkpoint: str | Path, returns_file: str | Path, sectors: str = ""
) -> ReverseContext:
    """Load the stress model and the returns for the router into ``app.state``.

    Parameters
    ----------
    app : FastAPI
    checkpoint : path
        ``models/stress.pt``.
    returns_file : path
        Parquet of daily log returns holding (at least) the model's assets as columns.
    sectors : str
        Sector map ``"name=TICKER,...; ..."`` (``""``: one segment per asset).
    """
    model = load_stress_model(checkpoint)
    frame = pd.read_parquet(returns_file)
    missing = [a for a in model.assets if a not in frame.columns]
    if missing:
        raise ValueError(f"{returns_file} lacks the model's assets {missing}")
    returns = frame[model.assets].dropna()
    train = returns.loc[returns.index <= pd.Timestamp(model.train_end)].to_numpy(dtype=float)
    context = ReverseContext(
        model=model,
        returns=returns,
        reference=fit_path_reference(train, model.config.horizon),
        segments=parse_segments(sectors, model.assets),
        checkpoint_sha256=weights_sha256(checkpoint),
        data_sha256=audit.frame_sha256(returns),
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
    n_paths: int = Field(300, ge=16, le=5000)
    seed: int = Field(0, ge=0)
    methods: list[str] = Field(
        default_factory=lambda: list(DEFAULT_METHODS),
        description=f"subset of {list(METHODS)} (default: all but vine_copula, slow)",
    )


def _bad(field: str, message: str) -> HTTPException:
    loc = ["body", field]
    return HTTPException(422, detail=[{"field": ".".join(loc), "loc": loc, "msg": message}])


@router.post("/reverse-stress")
def reverse_stress_endpoint(body: ReverseStressRequest, request: Request) -> dict[str, Any]:
    """Scenarios reaching the loss, their plausibility and ``P(loss >= L)``, per method."""
    context: ReverseContext | None = getattr(request.app.state, "reverse_stress", None)
    if context is None:
        raise HTTPException(503, detail="reverse stress is not configured on this server")
    model = context.model
    unknown = sorted(set(body.methods) - set(METHODS))
    if unknown or not body.methods:
        raise _bad("methods", f"unknown methods {unknown}; expected a subset of {list(METHODS)}")
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
        if body.as_of:
            try:
                as_of: pd.Timestamp | None = pd.Timestamp(body.as_of)
            except ValueError:
                raise ReverseStressError("as_of", f"{body.as_of!r} is not a date") from None
        else:
            as_of = None
        results, summary = reverse_stress_methods(
            model,
            context.returns,
            checked,
            as_of=as_of,
            reference=context.reference,
            segments=context.segments,
            n_paths=body.n_paths,
            methods=body.methods,
            seed=body.seed,
        )
    except ReverseStressError as exc:
        raise _bad(exc.field, exc.message) from None
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
        "assets": list(model.assets),
        "methods": table.to_dict(orient="records"),
        "most_plausible": scenarios,
        "audit": record,
    }
