"""Tests of diffrisk.diffusion.settings: the shared smoke() of the settings dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar

import pytest

from diffrisk.ddpm.config import DDPMConfig
from diffrisk.diffusion.settings import SmokeSettings
from diffrisk.stress.comparison import ComparisonConfig
from diffrisk.stress.config import StressConfig


@dataclass(frozen=True)
class _Toy(SmokeSettings):
    size: int = 100
    rate: float = 0.5
    name: str = "full"

    SMOKE: ClassVar = {"size": 3}


def test_smoke_applies_the_mapping_then_the_overrides_over_the_defaults():
    assert _Toy.smoke() == _Toy(size=3, rate=0.5, name="full")
    assert _Toy.smoke(rate=0.1) == _Toy(size=3, rate=0.1)
    assert _Toy.smoke(size=7).size == 7  # an override wins over SMOKE
    with pytest.raises(TypeError, match="unexpected keyword argument 'sise'"):
        _Toy.smoke(sise=3)


@pytest.mark.parametrize("cls", [DDPMConfig, StressConfig, ComparisonConfig])
def test_every_config_smoke_is_its_smoke_mapping_over_the_defaults(cls):
    names = {f.name for f in fields(cls)}
    assert cls.SMOKE and set(cls.SMOKE) <= names
    smoke = cls.smoke()
    assert smoke == replace(cls(), **cls.SMOKE)
    for name in names - set(cls.SMOKE):
        assert getattr(smoke, name) == getattr(cls(), name)
    assert isinstance(smoke, cls)
