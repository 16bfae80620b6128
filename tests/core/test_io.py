"""Tests of diffrisk.core.io: atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from diffrisk.core import io


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "table.csv"
    with pytest.raises(RuntimeError, match="boom"), io.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_atomic_write_replaces_and_is_readable(tmp_path):
    target = tmp_path / "x.json"
    io.write_json(target, {"b": np.float64(1.5), "a": np.int64(2), "c": float("nan")})
    assert json.loads(target.read_text()) == {"a": 2, "b": 1.5, "c": None}
    assert oct(target.stat().st_mode & 0o777) == "0o644"
