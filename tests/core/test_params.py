"""Tests of diffrisk.core.params."""

from __future__ import annotations

from diffrisk.core.params import parse_list


def test_parse_list():
    assert parse_list("portfolio, sp500,") == ["portfolio", "sp500"]
    assert parse_list("") == []
    assert parse_list(["a", " b"]) == ["a", "b"]


def test_parse_list_lives_in_core_params():
    assert parse_list(None) == []
    assert parse_list(" x ,, y") == ["x", "y"]
