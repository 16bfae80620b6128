"""dvc.yaml lists, for every stage, exactly the code its notebook reaches."""

from __future__ import annotations

import ast

import pytest
import yaml

from tests.stages.dvc_deps import (
    PKG,
    ROOT,
    collapse,
    expected_code_deps,
    imported_modules,
    notebook_imports,
    reached,
    stage_notebook,
)

SPEC = yaml.safe_load((ROOT / "dvc.yaml").read_text())


@pytest.mark.parametrize("stage", sorted(SPEC["stages"]))
def test_stage_code_deps_are_exactly_what_its_notebook_reaches(stage):
    declared = [d for d in SPEC["stages"][stage]["deps"] if str(d).startswith("src/")]
    expected = expected_code_deps(SPEC["stages"][stage])
    assert sorted(declared) == sorted(expected), (
        f"stage {stage}: dvc.yaml lists {sorted(set(declared) - set(expected))} it does not "
        f"reach and misses {sorted(set(expected) - set(declared))}; run `make deps`"
    )


@pytest.mark.parametrize("stage", sorted(SPEC["stages"]))
def test_notebook_imports_only_its_stage_module(stage):
    mods = notebook_imports(stage_notebook(SPEC["stages"][stage]))
    assert mods == {"diffrisk.stages", f"diffrisk.stages.{stage}"}


def test_function_level_and_relative_imports_are_followed():
    tree = ast.parse(
        "def f():\n    from diffrisk.risk import measures\n"
        "from .scoring import fz0_loss\nimport diffrisk.core.io\n"
    )
    found = imported_modules(tree, current="diffrisk.risk.portfolio")
    assert {"diffrisk.risk.measures", "diffrisk.risk.scoring", "diffrisk.core.io"} <= found


def test_reaching_a_module_reaches_its_packages_and_collapses_full_folders():
    files = reached({"diffrisk.core.io"})
    assert PKG / "__init__.py" in files and PKG / "core" / "__init__.py" in files
    assert PKG / "core" / "io.py" in files
    all_core = reached({f"diffrisk.core.{p.stem}" for p in (PKG / "core").glob("*.py")})
    assert "src/diffrisk/core" in collapse(all_core)
