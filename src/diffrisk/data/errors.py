"""The error every data check raises."""

from __future__ import annotations

__all__ = ["DataError"]


class DataError(ValueError):
    """Invalid input data or data parameters (the message says what and where)."""
