"""Tests of diffrisk.core.params."""

from __future__ import annotations

import pytest

from diffrisk.core.params import parse_list, parse_numbers


def test_parse_list():
    assert parse_list("portfolio, sp500,") == ["portfolio", "sp500"]
    assert parse_list("") == []
    assert parse_list(["a", " b"]) == ["a", "b"]


def test_parse_list_lives_in_core_params():
    assert parse_list(None) == []
    assert parse_list(" x ,, y") == ["x", "y"]


def test_parse_numbers_names_the_parameter():
    assert parse_numbers("1, 1.5,2,", "grid") == [1.0, 1.5, 2.0]
    assert parse_numbers([1, 2.5], "grid") == [1.0, 2.5]
    assert parse_numbers(None, "grid") == [] == parse_numbers("", "grid")
    with pytest.raises(ValueError, match=r"stress.generate.guidance_grid: 'x' is not a number"):
        parse_numbers("1,x", "stress.generate.guidance_grid")
