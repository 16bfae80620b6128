"""The settings a reverse stress request is answered with, and their record on disk.

The ``reverse_stress`` stage chooses, on validation, how a scenario set's leading sector
is estimated (the attribution) and how hard the diffusion chains are guided (the
strength), and it attributes losses to the sectors of ``stress.segments.sectors``. The
stage writes those settings, with the loss guidance's other knobs and the weight hash of
the stress model they were chosen for, to ``models/reverse_stress.json``
(:func:`write_serving`); the scenario service reads that record (:func:`read_serving`),
so that ``POST /reverse-stress`` answers as the study does. Without a record a service
answers with :func:`library_defaults` (one segment per asset, the defaults of
:func:`~diffrisk.stress.reverse_study.reverse_stress_methods` and
:func:`~diffrisk.stress.reverse.diffusion_reverse_stress`).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from diffrisk.core import io
from diffrisk.core.checks import check_int
from diffrisk.stress.config import parse_segments
from diffrisk.stress.reverse import check_attributions, diffusion_reverse_stress
from diffrisk.stress.reverse_guidance import check_guidance
from diffrisk.stress.reverse_study import reverse_stress_methods

#: File name of the stage's record in the models folder.
SERVING_FILE = "reverse_stress.json"


@dataclass(frozen=True)
class ReverseServing:
    """How reverse stress requests are answered.

    Attributes
    ----------
    sectors : str
        Sector map ``"name=TICKER,...; ..."`` of the loss attribution (``""``: one segment
        per asset; :func:`~diffrisk.stress.config.parse_segments`).
    attribution : str
        Estimate of a set's leading sector (:data:`~diffrisk.stress.reverse.ATTRIBUTIONS`).
    strength : float
        Loss guidance strength in ``[0, 1]``
        (:func:`~diffrisk.stress.reverse.diffusion_reverse_stress`).
    defensive : float
        Share of unguided chains in the proposal, in ``[0, 1)``.
    n_steps : int
        Stochastic DDIM steps of the guided chains.
    checkpoint_sha256 : str
        Weight hash of the stress model the settings were chosen for (``""``: any).
    source : str
        Where the settings come from, stated in every answer.
    """

    sectors: str
    attribution: str
    strength: float
    defensive: float
    n_steps: int
    checkpoint_sha256: str
    source: str

    def __post_init__(self) -> None:
        for name in ("sectors", "attribution", "checkpoint_sha256", "source"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string, got {getattr(self, name)!r}")
        check_attributions([self.attribution])
        strength, defensive = check_guidance(self.strength, self.defensive)
        object.__setattr__(self, "strength", strength)
        object.__setattr__(self, "defensive", defensive)
        object.__setattr__(self, "n_steps", check_int(self.n_steps, "n_steps"))

    def segments(self, assets: Sequence[str]) -> dict[str, list[str]]:
        """Sector -> tickers over ``assets`` (ValueError naming a ticker not among them)."""
        return parse_segments(self.sectors, assets)

    def diffusion_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~diffrisk.stress.reverse.diffusion_reverse_stress`."""
        return {"strength": self.strength, "defensive": self.defensive, "n_steps": self.n_steps}

    def to_record(self) -> dict[str, Any]:
        """The JSON record (every field)."""
        return asdict(self)


#: The record's fields, in the order of :class:`ReverseServing`.
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ReverseServing))


def library_defaults() -> ReverseServing:
    """The settings of a service without the stage's record: one segment per asset.

    Read from the signatures of :func:`~diffrisk.stress.reverse_study.reverse_stress_methods`
    (the attribution) and :func:`~diffrisk.stress.reverse.diffusion_reverse_stress` (the
    guidance), so that they are the library's defaults.
    """
    guidance = inspect.signature(diffusion_reverse_stress).parameters
    methods = inspect.signature(reverse_stress_methods).parameters
    return ReverseServing(
        sectors="",
        attribution=methods["attribution"].default,
        strength=guidance["strength"].default,
        defensive=guidance["defensive"].default,
        n_steps=guidance["n_steps"].default,
        checkpoint_sha256="",
        source="library defaults",
    )


def write_serving(path: str | Path, serving: ReverseServing) -> Path:
    """Write the record atomically (``core.io``) and return its path."""
    return io.write_json(path, serving.to_record())


def read_serving(
    path: str | Path, assets: Sequence[str], checkpoint_sha256: str | None = None
) -> ReverseServing:
    """Read and check the stage's record.

    Parameters
    ----------
    path : path
        ``models/reverse_stress.json``.
    assets : sequence of str
        The served model's assets (the sectors must name only these).
    checkpoint_sha256 : str, optional
        The served model's weight hash; a record chosen for other weights is refused.

    Raises
    ------
    ValueError
        Naming the file and the field: not a JSON object, a missing or unknown field, a
        bad value, sectors naming other tickers, or a record for other weights.
    """
    where = str(path)
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: not a readable JSON record ({exc})") from None
    if not isinstance(record, Mapping):
        raise ValueError(f"{where}: expected a JSON object with fields {list(FIELDS)}")
    missing = [f for f in FIELDS if f not in record]
    unknown = sorted(set(record) - set(FIELDS))
    if missing or unknown:
        raise ValueError(f"{where}: missing fields {missing}, unknown fields {unknown}")
    try:
        serving = ReverseServing(**{f: record[f] for f in FIELDS})
        serving.segments(assets)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None
    if checkpoint_sha256 and serving.checkpoint_sha256 not in ("", checkpoint_sha256):
        raise ValueError(
            f"{where}: chosen for stress weights {serving.checkpoint_sha256[:12]}, but the "
            f"served checkpoint has {checkpoint_sha256[:12]}; rerun the reverse_stress stage"
        )
    return serving
