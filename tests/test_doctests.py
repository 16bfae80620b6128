"""Every ``Examples`` section in the package's docstrings runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import diffrisk

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(diffrisk.__path__, prefix="diffrisk.")
    if not m.ispkg and not m.name.endswith(".__main__")  # a __main__ runs when imported
)


def test_the_package_has_modules_with_examples():
    finder = doctest.DocTestFinder()
    with_examples = [
        name
        for name in MODULES
        if any(t.examples for t in finder.find(importlib.import_module(name)))
    ]
    assert len(MODULES) > 100, MODULES
    assert len(with_examples) >= 30, with_examples


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
