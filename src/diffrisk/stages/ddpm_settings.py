"""The DDPM settings of the ``train`` and ``simulate`` stages: ``params.yaml`` plus tuning."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffrisk.core import paths
from diffrisk.ddpm.config import DDPMConfig


def ddpm_config(ddpm: Mapping[str, Any], use_tuned: bool) -> tuple[Any, dict[str, Any]]:
    """The DDPM configuration: ``params.yaml``'s ``ddpm`` section, then tuned values.

    When ``use_tuned`` and ``models/best_params.yaml`` holds tuned values (the tune stage
    ran with ``tune.enabled``), they override the section; otherwise the section is used
    as is.

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
    return DDPMConfig.from_dict({**dict(ddpm), **tuned}), tuned
