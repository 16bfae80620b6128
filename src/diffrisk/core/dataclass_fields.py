"""Build a dataclass from the same-named attributes of another object (e.g. a config)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any, TypeVar

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
