"""The audit records of a generated scenario set, shared by every stress generator.

A scenario set (:func:`diffrisk.stress.scenario_sets.generate_scenario_set` for the
diffusion model, :func:`diffrisk.stress.comparison_sets.comparison_scenario_set` for the
GAN and VAE) records how it was generated (:func:`generation_record`) and where it came
from (:func:`scenario_set_metadata`: model, data hashes, library versions, provenance).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch

from diffrisk.core import audit, io
from diffrisk.diffusion.weights_hash import model_version
from diffrisk.stress.archetypes import Archetype
from diffrisk.stress.signatures import ConditioningScales
from diffrisk.stress.windows import conditioning_position


def rows_before(returns: pd.DataFrame, as_of: Sequence[str | None]) -> pd.DataFrame:
    """The rows any of the conditioning dates may read (strictly before the latest)."""
    s = max(conditioning_position(returns.index, d) for d in as_of)
    return returns.iloc[:s]


def json_ready(obj: Any) -> Any:
    """``obj`` round-tripped through JSON (numpy scalars, dates and NaN made plain)."""
    return json.loads(json.dumps(obj, default=io.json_default))


def generation_record(
    generator: str,
    archetype: Archetype,
    guidance: float | None,
    seed: int,
    as_of: Sequence[str | pd.Timestamp | None],
    n_paths_per_date: int,
) -> dict[str, Any]:
    """The first entries of a scenario set's ``generation`` record (every generator).

    ``generator``, the archetype's name, source and signature, ``guidance`` (None for a
    generator without guidance), ``seed``, the conditioning dates (ISO dates, None for
    "after the last row") and ``n_paths_per_date``; the caller appends its own settings.
    """
    return {
        "generator": generator,
        "archetype": archetype.name,
        "archetype_source": archetype.source,
        "signature": dict(archetype.signature),
        "guidance": guidance,
        "seed": int(seed),
        "as_of": [None if d in (None, "") else str(pd.Timestamp(d).date()) for d in as_of],
        "n_paths_per_date": int(n_paths_per_date),
    }


def conditioning_weight(generation: Mapping[str, Any]) -> float:
    """The calibrated conditioning weight of a set's ``generation`` record, NaN if none.

    The diffusion model's guidance weight (``guidance``), else the GAN's or VAE's
    conditioning gain (``conditioning_gain``, recorded when calibrated).
    """
    for key in ("guidance", "conditioning_gain"):
        if generation.get(key) is not None:
            return float(generation[key])
    return math.nan


def scenario_set_metadata(
    model: ConditioningScales,
    version_name: str,
    generation: Mapping[str, Any],
    dates: pd.DataFrame,
    returns: pd.DataFrame,
    as_of: Sequence[str | None],
    flagged: list[str],
    *,
    seed: int,
    checkpoint_sha256: str,
    data_sha256: str,
    params: Mapping[str, Any] | None,
    versions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The audit metadata of a generated scenario set (diffusion, GAN or VAE).

    Parameters
    ----------
    model : StressModel or ComparisonModel
        The generator (assets, horizon, fit end, training signature range).
    version_name : str
        Generator name of :func:`~diffrisk.stress.model.model_version`.
    generation : mapping
        The settings that regenerate the set (stored under ``generation``).
    dates : DataFrame
        Conditioning dates of the paths (``as_of``, ``last_history``, ...).
    returns : DataFrame
        The returns the set was generated from; the rows before the latest ``as_of`` are
        hashed (``returns_sha256``).
    as_of : sequence of date or None
    flagged : list of str
        Signature components outside the training range.
    seed, checkpoint_sha256, data_sha256, params
        Recorded as given (:func:`diffrisk.core.audit.provenance`).
    versions : mapping, optional
        Further library versions, recorded after ``torch_version``.

    Returns
    -------
    dict
        JSON-ready provenance record.
    """
    extra = {
        "generation": dict(generation),
        "conditioning": json_ready(
            dates.assign(
                as_of=dates["as_of"].astype(str), last_history=dates["last_history"].astype(str)
            ).to_dict(orient="list")
        ),
        "assets": list(model.assets),
        "horizon": int(model.config.horizon),  # type: ignore[attr-defined]
        "checkpoint_sha256": checkpoint_sha256,
        "model_version": model_version(version_name, model.train_end, checkpoint_sha256),
        "returns_sha256": audit.frame_sha256(rows_before(returns, as_of)),
        "out_of_range": flagged,
        "out_of_range_flag": bool(flagged),
        "training_signature_range": json_ready(model.signature_bounds.to_dict(orient="index")),
        "torch_version": torch.__version__,
        **(versions or {}),
        "torch_threads": int(torch.get_num_threads()),
    }
    record = audit.provenance(params or {}, seed, data_sha256, extra=extra)
    return json_ready(record)
