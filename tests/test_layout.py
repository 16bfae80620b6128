"""The layout of tests/: it mirrors src/diffrisk, and no test reaches into private names.

- ``tests/<subpackage>/test_<module>.py`` tests ``src/diffrisk/<subpackage>/<module>.py``;
  test files in ``tests/`` itself are allowed only for the cross-cutting tests listed in
  ``ROOT_TEST_FILES``.
- No test module imports a private name (leading underscore) from a diffrisk module, nor
  reaches one by attribute access on an imported diffrisk module: tests go through the
  public API.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SRC = ROOT / "src" / "diffrisk"

#: Test files allowed in tests/ itself: the cross-cutting ones.
ROOT_TEST_FILES = frozenset(
    {
        # cross-cutting
        "test_pipeline_smoke.py",
        "test_notebooks.py",
        "test_layout.py",
        "test_architecture.py",
        "test_docs.py",  # the documentation site and the README
        "test_api.py",  # the front door: diffrisk/__init__.py and diffrisk/api.py
        "test_readme_example.py",  # the README's library example (examples/)
        "test_own_data_smoke.py",  # the pipeline on a user's CSV (examples/)
        "test_doctests.py",  # every docstring example of the package
    }
)

#: Test files in a subpackage folder that test the subpackage as a whole, not one module.
CROSS_CUTTING_IN_FOLDERS = frozenset(
    {
        "stages/test_dvc_deps.py",  # dvc.yaml deps of every stage
    }
)


def _python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_diffrisk(module: str | None) -> bool:
    return module is not None and (module == "diffrisk" or module.startswith("diffrisk."))


def _is_module(dotted: str) -> bool:
    """Whether ``dotted`` (``diffrisk.a.b``) names a module or package of src/diffrisk."""
    rel = Path(*dotted.split(".")[1:])
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` of a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def private_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, description) of every private diffrisk name a module imports or reaches."""
    found: list[tuple[int, str]] = []
    modules: dict[str, str] = {}  # local name -> diffrisk module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_diffrisk(node.module):
            for alias in node.names:
                if _is_private(alias.name):
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
                elif _is_module(f"{node.module}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if not _is_diffrisk(alias.name):
                    continue
                if any(_is_private(part) for part in alias.name.split(".")):
                    found.append((node.lineno, f"import {alias.name}"))
                if alias.asname:
                    modules[alias.asname] = alias.name
                else:  # ``import diffrisk.a.b`` binds ``diffrisk``
                    modules["diffrisk"] = "diffrisk"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            base = _dotted(node.value)
            if base is None:
                continue
            head, _, rest = base.partition(".")
            if head in modules:
                target = modules[head] + (f".{rest}" if rest else "")
                if _is_module(target):
                    found.append((node.lineno, f"{base}.{node.attr} ({target}.{node.attr})"))
    return sorted(found)


def test_private_use_detector():
    code = (
        "import diffrisk.core.io as dio\n"
        "import diffrisk.core.audit\n"
        "from diffrisk.core import paths\n"
        "from diffrisk.core.io import _tmp, write_json\n"
        "from diffrisk.core.paths import project_root\n"
        "dio._x(); paths._y; diffrisk.core.audit._z; dio.write_json; project_root._w\n"
        "other._v; dio.__name__\n"
    )
    assert {text for _, text in private_uses(ast.parse(code))} == {
        "from diffrisk.core.io import _tmp",
        "dio._x (diffrisk.core.io._x)",
        "paths._y (diffrisk.core.paths._y)",
        "diffrisk.core.audit._z (diffrisk.core.audit._z)",
    }


def test_no_test_imports_a_private_diffrisk_name():
    offences = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in _python_files()
        for line, text in private_uses(ast.parse(path.read_text(), filename=str(path)))
    ]
    assert not offences, "tests use private diffrisk names:\n" + "\n".join(offences)


def test_root_allow_list_names_no_subpackage_file():
    assert all(name.startswith("test_") and name.endswith(".py") for name in ROOT_TEST_FILES)


@pytest.mark.parametrize("kind", ["root", "folders", "packages"])
def test_tests_mirror_the_source_tree(kind):
    problems = []
    for path in _python_files():
        rel = path.relative_to(TESTS)
        if kind == "root" and len(rel.parts) == 1 and rel.name.startswith("test_"):
            if rel.name not in ROOT_TEST_FILES:
                problems.append(f"tests/{rel}: not cross-cutting; move it to tests/<subpackage>/")
        elif kind == "folders" and len(rel.parts) > 1 and rel.name.startswith("test_"):
            if rel.as_posix() in CROSS_CUTTING_IN_FOLDERS:
                continue
            module = SRC.joinpath(*rel.parts[:-1], rel.name.removeprefix("test_"))
            if not module.is_file():
                problems.append(f"tests/{rel}: no module {module.relative_to(ROOT)}")
        elif kind == "packages" and len(rel.parts) > 1:
            folder = path.parent
            while folder != TESTS:
                if not (folder / "__init__.py").is_file():
                    problems.append(f"{folder.relative_to(ROOT)} has no __init__.py")
                folder = folder.parent
    assert not problems, "\n".join(sorted(set(problems)))
