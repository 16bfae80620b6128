"""Request and response models of the scenario service (pydantic), and its error type.

Static ranges are declared on the fields (pydantic answers 422 naming the field and the
bound); ranges that depend on the served model (horizon, number of paths, conditioning
dates, weights) are checked by the application and raise :class:`RequestError`, which
the application turns into the same 422 shape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

#: Strict numbers: ``true`` or ``"5"`` is refused (422), not read as 1 or 5.
StrictInt = Annotated[int, Strict()]
StrictNumber = Annotated[float, Strict()]

#: Identifier pattern of generator and archetype names.
NAME_PATTERN = r"^[A-Za-z0-9_]{1,64}$"
#: A scenario-set id: the SHA-256 of the canonical request (64 lower-case hex digits).
SET_ID_PATTERN = r"^[0-9a-f]{64}$"
#: ``latest`` or a version prefix of at least 12 hex digits.
VERSION_PATTERN = r"^(latest|[0-9a-f]{12,64})$"
#: Tail probabilities of the risk summary.
SUMMARY_ALPHAS: tuple[float, ...] = (0.05, 0.01)


class RequestError(Exception):
    """A request the service cannot serve, with the field at fault and the allowed range.

    Parameters
    ----------
    status : int
        404 (unknown generator, version, archetype or set) or 422 (out of range).
    field : str
        Dotted name of the request field (``body.horizon``), or the path parameter.
    message : str
    allowed : str, optional
        The allowed values or range, stated plainly.
    """

    def __init__(self, status: int, field: str, message: str, allowed: str | None = None):
        super().__init__(message)
        self.status, self.field, self.message, self.allowed = status, field, message, allowed
        self.headers: dict[str, str] | None = None

    @classmethod
    def not_one_of(
        cls, status: int, field: str, message: str, choices: Iterable[str]
    ) -> RequestError:
        """The error for a value outside ``choices`` (``allowed``: the choices, sorted)."""
        return cls(status, field, message, ", ".join(sorted(choices)))

    def body(self) -> dict[str, Any]:
        """The JSON error body: ``{"detail": [{"field", "loc", "msg", "allowed"}]}``."""
        item: dict[str, Any] = {
            "field": self.field,
            "loc": self.field.split("."),
            "msg": self.message,
        }
        if self.allowed is not None:
            item["allowed"] = self.allowed
        return {"detail": [item]}


class Signature(BaseModel):
    """A requested (partial) stress signature in raw units."""

    model_config = ConfigDict(extra="forbid")

    vol_ratio: StrictNumber | None = Field(
        None, gt=0.0, le=50.0, description="realised / forecast portfolio volatility"
    )
    cum_return: StrictNumber | None = Field(
        None, ge=-3.0, le=3.0, description="horizon log return of the equal-weighted portfolio"
    )
    avg_corr: StrictNumber | None = Field(
        None, ge=-1.0, le=1.0, description="average pairwise correlation over the horizon"
    )

    def values(self) -> dict[str, float]:
        """The components that were given."""
        return {k: float(v) for k, v in self.model_dump().items() if v is not None}


class ScenarioRequest(BaseModel):
    """``POST /scenarios``: what set to draw.

    Give ``archetype`` (a name of ``GET /models``) or ``signature`` (explicit components),
    not both; neither means the ``unconditional`` archetype.
    """

    model_config = ConfigDict(extra="forbid")

    generator: str = Field("diffusion", pattern=NAME_PATTERN)
    model_version: str = Field("latest", pattern=VERSION_PATTERN)
    archetype: str | None = Field(None, pattern=NAME_PATTERN)
    signature: Signature | None = None
    as_of: dt.date | None = Field(
        None, description="conditioning date: the paths start on it; history up to the day before"
    )
    horizon: StrictInt | None = Field(
        None, ge=2, description="days per path (default: the model's)"
    )
    n_paths: StrictInt = Field(1000, ge=1)
    seed: StrictInt = Field(0, ge=0, le=2**32 - 1)
    weights: dict[str, StrictNumber] | None = Field(
        None, description="portfolio weights by asset (sum 1); default equal weights"
    )
    guidance: StrictNumber | None = Field(
        None, ge=0.0, le=10.0, description="guidance weight override (diffusion only)"
    )

    @model_validator(mode="after")
    def _one_request(self) -> ScenarioRequest:
        if self.archetype is not None and self.signature is not None:
            raise ValueError("give either archetype or signature, not both")
        if self.signature is not None and not self.signature.values():
            raise ValueError("signature must give at least one of vol_ratio, cum_return, avg_corr")
        return self


class RiskRow(BaseModel):
    """Portfolio risk over the horizon at one tail probability (returns; negative = loss)."""

    alpha: float
    n_paths: int
    mean_return: float
    var: float
    es: float
    cdar: float


class ScenarioResponse(BaseModel):
    """``POST /scenarios`` and ``GET /scenarios/{id}``."""

    id: str
    cached: bool = False
    metadata: dict[str, Any]
    risk_summary: list[RiskRow]
    fan: dict[str, Any]
