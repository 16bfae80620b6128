"""Dataclass helpers: build one from another object's attributes; params-section round trips."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from typing import Any, ClassVar, Self, TypeVar

T = TypeVar("T")


def fields_from(
    cls: type[T], source: Any, keep_defaults: Iterable[str] = (), **overrides: Any
) -> T:
    """An instance of dataclass ``cls`` whose fields are read from ``source`` by name.

    Parameters
    ----------
    cls : dataclass type
        The class to build (e.g. a network spec or optimisation options).
    source : object
        Has an attribute for every field of ``cls`` not in ``keep_defaults`` or
        ``overrides`` (e.g. a flat config dataclass).
    keep_defaults : iterable of str
        Fields left at their default (not read from ``source``).
    **overrides
        Field values that replace (or stand in for missing) attributes of ``source``.

    Returns
    -------
    cls
        ``cls(**values)``, so its own validation runs.

    Raises
    ------
    AttributeError
        When ``source`` lacks a field that is neither kept nor overridden.
    """
    skip = set(keep_defaults) | set(overrides)
    values = {f.name: getattr(source, f.name) for f in fields(cls) if f.name not in skip}  # type: ignore[arg-type]
    return cls(**values, **overrides)


class ParamsSection:
    """``to_dict`` / ``from_dict`` of a settings dataclass read from one ``params.yaml`` section.

    Shared by :class:`~diffrisk.stress.config.StressConfig` (``stress.model``), the
    stress comparison and distillation settings and
    :class:`~diffrisk.ddpm.distill.DistillSettings` (``ddpm_distill``); the subclass names
    its section in :attr:`section`.
    """

    section: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Self:
        """Build from a mapping (``params.yaml``'s :attr:`section`); unknown keys raise."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown {cls.section} parameters {unknown}; expected some of {sorted(known)}"
            )
        return cls(**dict(values))
