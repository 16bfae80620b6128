from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from diffrisk.core.dataclass_fields import fields_from


@dataclass(frozen=True)
class _Spec:
    a: int
    b: float = 1.5
    c: str = "x"

    def __post_init__(self) -> None:
        if self.a <= 0:
            raise ValueError(f"a must be > 0, got {self.a}")


def test_fields_from_reads_same_named_attributes_and_overrides():
    source = SimpleNamespace(a=3, b=2.5, c="y", other=9)
    assert fields_from(_Spec, source) == _Spec(a=3, b=2.5, c="y")
    assert fields_from(_Spec, source, c="z") == _Spec(a=3, b=2.5, c="z")


def test_fields_from_keeps_defaults_and_stands_in_for_missing_attributes():
    source = SimpleNamespace(b=4.0)
    assert fields_from(_Spec, source, keep_defaults=("c",), a=1) == _Spec(a=1, b=4.0, c="x")
    with pytest.raises(AttributeError):
        fields_from(_Spec, source, a=1)


def test_fields_from_runs_the_class_validation():
    with pytest.raises(ValueError, match="a must be > 0, got 0"):
        fields_from(_Spec, SimpleNamespace(a=0, b=1.0, c="x"))
