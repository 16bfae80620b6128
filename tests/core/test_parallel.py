"""parallel_map: order, serial fallback, errors."""

import math

import pytest

from diffrisk.core.parallel import parallel_map


def test_parallel_map_keeps_order_in_processes():
    assert parallel_map(math.factorial, [5, 3, 4], workers=2) == [120, 6, 24]


def test_parallel_map_serial():
    assert parallel_map(abs, [-1, 2], workers=1) == [1, 2]
    assert parallel_map(abs, [], workers=2) == []


def test_parallel_map_raises_worker_errors():
    with pytest.raises(ValueError):
        parallel_map(math.sqrt, [4.0, -1.0], workers=2)


def test_parallel_map_rejects_zero_workers():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        parallel_map(abs, [1], workers=0)
