"""The smoke configuration of the settings dataclasses (tiny models for end-to-end tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self


class SmokeSettings:
    """Mixin of a settings dataclass: :meth:`smoke` builds its tiny test configuration.

    The subclass lists the values that make its model tiny in :attr:`SMOKE` (one mapping:
    the smoke settings have one home); every other field keeps its default. Shared by
    :class:`~diffrisk.ddpm.config.DDPMConfig`, :class:`~diffrisk.stress.config.StressConfig`
    and :class:`~diffrisk.stress.comparison.ComparisonConfig`.
    """

    SMOKE: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def smoke(cls, **overrides: Any) -> Self:
        """The tiny configuration: :attr:`SMOKE`, then ``overrides``, over the defaults.

        Examples
        --------
        >>> from diffrisk.stress.config import StressConfig
        >>> StressConfig.smoke().horizon, StressConfig.smoke(horizon=12).horizon
        (10, 12)
        """
        return cls(**{**cls.SMOKE, **overrides})
