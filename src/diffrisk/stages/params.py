"""Each stage's own parameters, read from ``params.yaml`` as ``dvc.yaml`` declares them.

``python -m diffrisk.stages.params STAGE`` prints, as YAML, exactly the keys that the
stage lists under ``params:`` in ``dvc.yaml`` (a dotted key ``data.train_end`` becomes
``data: {train_end: ...}``). The stage's command passes that text to papermill
(``-y "$(python -m diffrisk.stages.params STAGE)"``), so a notebook receives its own
section and nothing else, and what DVC tracks is what the notebook gets.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from diffrisk.core import paths

__all__ = ["declared_params", "stage_params"]


def declared_params(stage: str, dvc_file: Path | None = None) -> list[str]:
    """The ``params:`` entries of ``stage`` in ``dvc.yaml`` (``["*"]`` for the whole file).

    Raises
    ------
    KeyError
        If ``dvc.yaml`` has no stage of that name.
    """
    spec = yaml.safe_load((dvc_file or paths.project_root() / "dvc.yaml").read_text())
    stages = spec.get("stages", {})
    if stage not in stages:
        raise KeyError(f"dvc.yaml has no stage {stage!r}; stages: {sorted(stages)}")
    keys: list[str] = []
    for item in stages[stage].get("params", []):
        if isinstance(item, Mapping):  # {"params.yaml": None}: every parameter of the file
            keys.append("*")
        else:
            keys.append(str(item))
    return keys


def stage_params(
    stage: str, params_file: Path | None = None, dvc_file: Path | None = None
) -> dict[str, Any]:
    """The parameters ``stage`` declares, nested as in ``params.yaml``.

    Parameters
    ----------
    stage : str
        A stage name of ``dvc.yaml``.
    params_file, dvc_file : Path, optional
        Default: the project's ``params.yaml`` and ``dvc.yaml``.

    Returns
    -------
    dict
        ``{"seed": ..., "data": {"train_end": ...}, ...}``.

    Raises
    ------
    KeyError
        If a declared key is missing from ``params.yaml`` (the message names it).
    """
    params = yaml.safe_load((params_file or paths.params_file()).read_text()) or {}
    keys = declared_params(stage, dvc_file)
    if "*" in keys:
        return dict(params)
    out: dict[str, Any] = {}
    for key in keys:
        node: Any = params
        parts = key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(
                    f"params.yaml has no {'.'.join(parts[: i + 1])!r} "
                    f"(declared by stage {stage!r} in dvc.yaml)"
                )
            node = node[part]
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = node
    return out


def main(argv: list[str] | None = None) -> None:
    """Print a stage's parameters as YAML (for papermill ``-y``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage")
    args = parser.parse_args(argv)
    print(yaml.safe_dump(stage_params(args.stage), sort_keys=False, default_flow_style=None))


if __name__ == "__main__":
    main()
