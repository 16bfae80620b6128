"""The code each DVC stage reaches, derived from imports (used by ``test_dvc_deps.py``).

``python -m tests.stages.dvc_deps`` prints, per stage, the ``src/diffrisk`` deps that
``dvc.yaml`` must list; ``--write`` rewrites them in place (other deps are kept).

A stage reaches its notebook's imports and, transitively, every ``diffrisk`` module those
import (module-level and function-level imports alike); importing ``diffrisk.a.b`` also
runs ``diffrisk/__init__.py`` and ``diffrisk/a/__init__.py``. A subpackage whose files are
all reached is listed as its folder, otherwise file by file.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PKG = SRC / "diffrisk"


def module_file(name: str) -> Path | None:
    """The file of module ``name`` (``diffrisk.x.y``), or None if it is not a module."""
    base = SRC.joinpath(*name.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def imported_modules(tree: ast.AST, current: str | None = None) -> set[str]:
    """Every ``diffrisk`` module an AST imports, anywhere in it (relative imports resolved)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "diffrisk"}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level and current:
                parts = current.split(".")[: -node.level]
                mod = ".".join(parts + ([mod] if mod else []))
            if mod.split(".")[0] != "diffrisk":
                continue
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names if module_file(f"{mod}.{a.name}")}
    return found


def with_parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[: i + 1]) for i in range(len(parts))}


def reached(start: set[str]) -> set[Path]:
    """Files of every module reached from ``start`` (transitively, parents included)."""
    todo = [m for s in start for m in with_parents(s)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        if path is None:
            continue
        for dep in imported_modules(
            ast.parse(path.read_text()), name if path.name != "__init__.py" else name + ".__init__"
        ):
            todo.extend(with_parents(dep))
    return {p for p in (module_file(n) for n in seen) if p is not None}


def notebook_imports(notebook: Path) -> set[str]:
    cells = json.loads(notebook.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    return imported_modules(ast.parse("\n".join(lines)))


def collapse(files: set[Path]) -> list[str]:
    """Deps as paths relative to the project: whole folders where every file is reached."""
    out: list[str] = []

    def walk(folder: Path) -> None:
        py = sorted(folder.rglob("*.py"))
        if py and all(p in files for p in py) and folder != PKG:
            out.append(folder.relative_to(ROOT).as_posix())
            return
        for p in sorted(folder.iterdir()):
            if p.is_dir() and p.name != "__pycache__":
                walk(p)
            elif p.suffix == ".py" and p in files:
                out.append(p.relative_to(ROOT).as_posix())

    walk(PKG)
    return out


def stage_notebook(stage: dict) -> Path:
    deps = [
        d for d in stage["deps"] if str(d).endswith(".ipynb") and str(d).startswith("notebooks/")
    ]
    return ROOT / deps[0]


def expected_code_deps(stage: dict) -> list[str]:
    return collapse(reached(notebook_imports(stage_notebook(stage))))


def main() -> None:
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    text = (ROOT / "dvc.yaml").read_text()
    for name, stage in spec["stages"].items():
        code = expected_code_deps(stage)
        print(name, code)
        if "--write" in sys.argv:
            old = [d for d in stage["deps"] if str(d).startswith("src/")]
            others = [d for d in stage["deps"] if not str(d).startswith("src/")]
            new = [others[0], *code, *others[1:]]
            block_old = "".join(f"      - {d}\n" for d in stage["deps"])
            block_new = "".join(f"      - {d}\n" for d in new)
            assert block_old in text, (name, old)
            text = text.replace(block_old, block_new, 1)
    if "--write" in sys.argv:
        (ROOT / "dvc.yaml").write_text(text)


if __name__ == "__main__":
    main()
