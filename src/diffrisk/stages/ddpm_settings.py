"""The DDPM settings of the stages: ``params.yaml``, tuned values and the selection.

``ddpm.final_refit``, ``generate.n_steps`` and ``generate.order`` may be ``"auto"``: then
the nested-validation stage (``select``) decides them and writes its decisions to
``reports/metrics/selection.json``; the stages that use them read that file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffrisk.core import paths
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.stages.common import load_selection

AUTO = "auto"


def resolve_auto(section: str, values: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``values`` with each of ``keys`` that is ``"auto"`` replaced by the selection's choice."""
    out = dict(values)
    auto = [k for k in keys if out.get(k) == AUTO]
    if auto:
        selection = load_selection()
        for key in auto:
            if key not in selection:
                raise ValueError(
                    f"{section}.{key} is 'auto' but {paths.selection_file()} has no {key!r}"
                )
            out[key] = selection[key]
    return out


def ddpm_config(
    ddpm: Mapping[str, Any], use_tuned: bool, **fixed: Any
) -> tuple[DDPMConfig, dict[str, Any]]:
    """The DDPM configuration: ``params.yaml``'s ``ddpm`` section, then tuned values.

    When ``use_tuned`` and ``models/best_params.yaml`` holds tuned values (the tune stage
    ran with ``tune.enabled``), they override the section; otherwise the section is used
    as is. ``ddpm.final_refit: auto`` takes the select stage's decision, unless ``fixed``
    sets it (``fixed`` overrides any field, e.g. ``final_refit=False`` for the stages that
    decide it).

    Returns
    -------
    config : DDPMConfig
    tuned : dict
        The overrides applied (empty when none).
    """
    import yaml

    tuned: dict[str, Any] = {}
    path = paths.best_params_file()
    if use_tuned and path.is_file():
        record = yaml.safe_load(path.read_text()) or {}
        if record.get("tuned"):
            tuned = dict(record.get("best_params", {}))
    values = {**dict(ddpm), **tuned, **fixed}
    values = resolve_auto("ddpm", values, ("final_refit",))
    return DDPMConfig.from_dict(values), tuned


def sampler_settings(generate: Mapping[str, Any]) -> dict[str, Any]:
    """``generate``'s sampling options with ``"auto"`` steps/order resolved."""
    return resolve_auto("generate", generate, ("n_steps", "order"))
