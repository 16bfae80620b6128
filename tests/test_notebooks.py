"""The committed notebooks follow the project's rules (thin, parameterised, stripped)."""

import ast
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_thin_and_stripped(path):
    nb = nbformat.read(path, as_version=4)
    cells = code_cells(nb)
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert cells[0] is tagged[0], "the parameters cell is the first code cell"
    for cell in cells:
        assert not cell.get("outputs"), "outputs must be stripped"
        assert cell.get("execution_count") is None
        tree = ast.parse(cell.source)
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert not defs, "no def/class in notebooks"
        assert "sys.path" not in cell.source and "pip install" not in cell.source
    # parameters are literals only
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, ast.Assign)
        ast.literal_eval(node.value)
    # no file paths typed in the notebook
    for cell in cells:
        assert not re.search(r"['\"](\.{0,2}/|[A-Za-z]:\\)[^'\"]*['\"]", cell.source)


def test_every_notebook_is_a_stage():
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    cmds = " ".join(stage["cmd"] for stage in spec["stages"].values())
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in cmds
        assert f"reports/notebooks/{path.name}" in cmds


def _stage_of(path: Path) -> str:
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    for name, stage in spec["stages"].items():
        if f"notebooks/{path.name}" in stage["deps"]:
            return name
    raise AssertionError(f"{path.name} is no stage's notebook")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_holds_exactly_the_stage_parameters(path):
    """The parameters cell defines the keys the stage declares in dvc.yaml, nothing else.

    papermill injects the same names (``python -m diffrisk.stages.params STAGE``), so no
    "Passed unknown parameter" warning, and the notebook runs as is from its defaults.
    """
    from diffrisk.stages.params import stage_params

    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in code_cells(nb) if "parameters" in c.metadata.get("tags", []))
    defaults = {
        node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body
    }
    declared = stage_params(_stage_of(path))

    def shape(value):
        return {k: shape(v) for k, v in value.items()} if isinstance(value, dict) else None

    assert shape(defaults) == shape(declared)


def test_report_notebook_records_every_parameter():
    """The report declares the whole params.yaml; its notebook must pass every section on."""
    path = ROOT / "notebooks" / "10_report.ipynb"
    nb = nbformat.read(path, as_version=4)
    cells = code_cells(nb)
    declared = {
        node.targets[0].id
        for node in ast.parse(cells[0].source).body  # the parameters cell
    }
    passed = None
    for cell in cells[1:]:
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "params":
                passed = {k.value for k in node.value.keys}
    assert passed == declared == set(yaml.safe_load((ROOT / "params.yaml").read_text()))


def test_parameters_cell_defaults_equal_params_yaml():
    """Opened to explore, a notebook runs with the study's values (not stale ones)."""
    from tests.support.notebook_params import stale

    found = stale()
    assert not found, (
        "notebook parameters cells differ from params.yaml: "
        + "; ".join(f"{stage}: {', '.join(keys)}" for stage, keys in found.items())
        + " — run `python -m tests.support.notebook_params --write`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_reads_every_parameter_without_a_warning(path, caplog):
    """papermill parses the parameters cell line by line; a line with two ``=`` (a list such
    as ``"a=1; b=2"``) made it log "Unable to parse line" on every run of the stage."""
    from papermill.translators import PythonTranslator

    from diffrisk.stages.params import stage_params

    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in code_cells(nb) if "parameters" in c.metadata.get("tags", []))
    with caplog.at_level("WARNING", logger="papermill"):
        found = {p.name for p in PythonTranslator.inspect(cell)}
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert found == set(stage_params(_stage_of(path)))
