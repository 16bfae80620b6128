"""The stages' papermill engine: the kernel over IPC, every stage of dvc.yaml through it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

from diffrisk.stages.engine import IPCEngine, IPCKernelManager

ROOT = Path(__file__).resolve().parents[2]

#: Run inside the kernel: the transport and address of its own connection file.
PROBE = (
    "import json, ipykernel.connect as c\n"
    "info = json.load(open(c.get_connection_file()))\n"
    "print(info['transport'], info['ip'])"
)


def test_the_kernel_manager_defaults_to_ipc_and_keeps_an_explicit_choice(monkeypatch):
    assert IPCKernelManager().transport == "ipc"
    assert IPCKernelManager(transport="tcp").transport == "tcp"
    monkeypatch.setattr(sys, "platform", "win32")  # ZeroMQ has no IPC transport there
    assert IPCKernelManager().transport == "tcp"


@pytest.mark.parametrize("engine", ["diffrisk", "nbclient"])
def test_the_engine_runs_the_kernel_over_ipc_and_the_kernel_stays_quiet(engine, tmp_path, capfd):
    """By its entry-point name (``papermill --engine diffrisk``) the kernel's connection file
    says ``ipc`` and ipykernel's TCP warning is gone; papermill's default engine is the
    control (``tcp``, the warning)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
    nbformat.write(nb, tmp_path / "in.ipynb")
    papermill.execute_notebook(
        tmp_path / "in.ipynb",
        tmp_path / "out.ipynb",
        kernel_name="python3",
        engine_name=engine,
        progress_bar=False,
    )
    transport, address = (
        nbformat.read(tmp_path / "out.ipynb", 4).cells[0].outputs[0]["text"].split()
    )
    warned = "running over TCP without encryption" in capfd.readouterr().err
    if engine == "diffrisk":
        assert transport == "ipc" and address.endswith("-ipc") and not warned
    else:
        assert transport == "tcp" and address == "127.0.0.1" and warned


def test_the_entry_point_names_this_engine():
    from papermill.engines import papermill_engines

    assert papermill_engines.get_engine("diffrisk") is IPCEngine


@pytest.mark.parametrize("first", ["diffrisk.stages.engine", "papermill.engines"])
def test_either_module_imports_first_in_a_fresh_interpreter(first):
    """Importing papermill.engines loads every registered engine (this one too): the
    engine module must not import papermill.engines at its top, or whichever comes first
    finds the other half-initialised."""
    code = (
        f"import {first}\n"
        "import diffrisk.stages.engine as e, papermill.engines as p\n"
        "assert p.papermill_engines.get_engine('diffrisk') is e.IPCEngine\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


def test_every_stage_runs_its_notebook_with_this_engine():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        calls = re.findall(r"papermill \S+ \S+ (.*?)(?:-y|$)", stage["cmd"])
        assert calls and all("--engine diffrisk" in c for c in calls), name


def test_a_failing_cell_still_fails_the_run(tmp_path):
    """The engine passes papermill's error handling through: a raising cell stops the run."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('bad')")])
    nbformat.write(nb, tmp_path / "in.ipynb")
    with pytest.raises(papermill.PapermillExecutionError, match="bad"):
        papermill.execute_notebook(
            tmp_path / "in.ipynb",
            tmp_path / "out.ipynb",
            kernel_name="python3",
            engine_name="diffrisk",
            progress_bar=False,
        )
