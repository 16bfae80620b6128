"""Notebook parameter cells from params.yaml (used by ``tests/test_notebooks.py``).

``python -m tests.support.notebook_params`` lists every notebook whose ``parameters`` cell
differs from the values its stage declares in ``params.yaml``; ``--write`` rewrites those
cells, and any cell not written the way :func:`cell_source` writes it (the first comment
line is kept; the literals are formatted by ruff). papermill
injects the real values when DVC runs a stage, so a stale default only misleads someone
who opens the notebook to explore, which is what this keeps from happening.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).parent / "ruff"


def stage_notebooks() -> dict[str, Path]:
    """Stage name -> its notebook (the ``notebooks/*.ipynb`` dep in dvc.yaml)."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    out = {}
    for name, stage in spec.items():
        nbs = [d for d in stage["deps"] if str(d).startswith("notebooks/") and d.endswith(".ipynb")]
        out[name] = ROOT / nbs[0]
    return out


def parameters_cell(nb: Any) -> Any:
    return next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))


def cell_defaults(source: str) -> dict[str, Any]:
    return {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(source).body}


def _literal(value: Any, indent: int = 0) -> str:
    if isinstance(value, dict) and value:
        pad = " " * (indent + 4)
        items = "".join(f"{pad}{k!r}: {_literal(v, indent + 4)},\n" for k, v in value.items())
        return "{\n" + items + " " * indent + "}"
    return repr(value)


_STRING_LINE = re.compile(
    r"^(?P<pad>\s*)(?P<head>\w+ = |(?:'[^']*'|\"[^\"]*\"): )(?P<lit>.+?)(?P<comma>,?)$"
)


def _split_string_lines(source: str) -> str:
    """Write each string literal with two ``=`` as a concatenation, one item per line.

    papermill reads a parameters cell line by line and warns ("Unable to parse line") about
    every line with two ``=``, such as ``"portfolios": "a=x,y; b=z"``.
    """
    out = []
    for line in source.splitlines():
        match = _STRING_LINE.match(line)
        value = None
        if match and line.count("=") > 1:
            try:
                value = ast.literal_eval(match["lit"])
            except (ValueError, SyntaxError):
                value = None
        if not isinstance(value, str):
            out.append(line)
            continue
        pad = match["pad"]
        out.append(f"{pad}{match['head']}(")
        # JSON's quoting is a valid Python literal with ruff's double quotes
        out += [f"{pad}    {json.dumps(part)}" for part in _one_equals_sign_per_line(value)]
        out.append(f"{pad}){match['comma']}")
    return "\n".join(out)


def _one_equals_sign_per_line(text: str) -> list[str]:
    """``text`` cut after ``"; "`` (then ``", "``) into pieces with at most one ``=`` each.

    papermill reads a parameters cell line by line and warns ("Unable to parse line") about
    every line with two ``=``; a list such as ``"a=1; b=2"`` is therefore written as an
    implicit concatenation, one item per line.
    """
    pieces: list[str] = []
    for item in re.split(r"(?<=; )", text):
        pieces += re.split(r"(?<=, )", item) if item.count("=") > 1 else [item]
    out: list[str] = []
    for piece in pieces:
        if out and (out[-1] + piece).count("=") <= 1 and not out[-1].endswith("; "):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def cell_source(declared: dict[str, Any], old_source: str) -> str:
    """The parameters cell for ``declared`` (ruff-formatted, first comment line kept)."""
    first = old_source.splitlines()[0] if old_source.startswith("#") else ""
    body = "\n".join(f"{k} = {_literal(v)}" for k, v in declared.items())
    text = (first + "\n" if first else "") + body + "\n"
    proc = subprocess.run(
        [str(RUFF), "format", "--stdin-filename", "cell.py", "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return _split_string_lines(proc.stdout.rstrip("\n"))


def stale() -> dict[str, list[str]]:
    """Stage -> the parameter keys whose notebook default differs from params.yaml."""
    from diffrisk.stages.params import stage_params

    out: dict[str, list[str]] = {}
    for stage, path in stage_notebooks().items():
        defaults = cell_defaults(parameters_cell(nbformat.read(path, as_version=4)).source)
        declared = stage_params(stage, ROOT / "params.yaml", ROOT / "dvc.yaml")
        keys = _differences(defaults, declared)
        if keys:
            out[stage] = keys
    return out


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = list(dict.fromkeys([*a, *b]))
        return [d for k in keys for d in _differences(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b and type(a) is type(b) else [prefix.rstrip(".")]


def main() -> None:
    from diffrisk.stages.params import stage_params

    found = stale()
    for stage, keys in found.items():
        print(f"{stage}: {', '.join(keys)}")
    if "--write" in sys.argv:  # stale values, or a cell not written as cell_source writes it
        for stage, path in stage_notebooks().items():
            nb = nbformat.read(path, as_version=4)
            cell = parameters_cell(nb)
            declared = stage_params(stage, ROOT / "params.yaml", ROOT / "dvc.yaml")
            source = cell_source(declared, cell.source)
            if source != cell.source:
                cell.source = source
                nbformat.write(nb, path)
                print(f"rewrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
