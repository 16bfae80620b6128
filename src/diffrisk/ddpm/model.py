"""A fitted one-day model and its checkpoint."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from diffrisk.ddpm.config import CHECKPOINT_FORMAT, DDPMConfig
from diffrisk.ddpm.features import Scaler
from diffrisk.ddpm.market_state import MarketState
from diffrisk.ddpm.network import Denoiser, DenoiserSpec
from diffrisk.diffusion.checkpoints import read_checkpoint, restore_weights, save_checkpoint
from diffrisk.diffusion.schedule import NoiseSchedule


@dataclass
class DDPMModel:
    """A fitted DDPM risk model (what :func:`fit_ddpm` returns and checkpoints hold).

    Attributes
    ----------
    config : DDPMConfig
    net : Denoiser
        Selected (EMA) weights, eval mode.
    scaler : Scaler
        Causal scaling fitted on data up to ``fit_end``'s training part.
    schedule : NoiseSchedule
    data_hash : str
        SHA-256 (:func:`diffrisk.core.audit.frame_sha256`) of the returns used for fitting.
    fit_end : str
        Last date of the data the network was trained on (ISO).
    metrics : dict
        The metrics returned by :func:`fit_ddpm`.
    market : MarketState or None
        Fitted market-state features (None when ``config.market_features`` is off).
    """

    config: DDPMConfig
    net: Denoiser
    scaler: Scaler
    schedule: NoiseSchedule
    data_hash: str
    fit_end: str
    metrics: dict[str, Any] = field(default_factory=dict)
    market: MarketState | None = None

    @property
    def series(self) -> list[str]:
        """Series the model can forecast."""
        return list(self.scaler.series)

    def checkpoint_payload(self) -> dict[str, Any]:
        """Everything needed to rebuild the model (plain types plus a state dict).

        ``market_state`` is present only when the model uses market-state features.
        """
        payload = {
            "format": CHECKPOINT_FORMAT,
            "complete": True,
            "config": self.config.to_dict(),
            "spec": asdict(self.net.spec),
            "state_dict": self.net.state_dict(),
            "scaler": self.scaler.to_dict(),
            "data_hash": self.data_hash,
            "fit_end": self.fit_end,
            "metrics": self.metrics,
        }
        if self.market is not None:
            payload["market_state"] = self.market.to_dict()
        return payload

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a complete checkpoint atomically."""
        return save_checkpoint(path, self.checkpoint_payload())


def model_from_payload(payload: Mapping[str, Any], source: str) -> DDPMModel:
    """Rebuild a :class:`DDPMModel` from a complete checkpoint payload.

    ``source`` names the payload's origin in error messages.

    Raises
    ------
    ValueError
        If the payload is not a complete DDPM checkpoint.
    """
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{source}: not a DDPM checkpoint of format {CHECKPOINT_FORMAT!r} "
            f"(found {payload.get('format')!r})"
        )
    if not payload.get("complete", False):
        raise ValueError(
            f"{source}: checkpoint is from an unfinished training run; "
            "call fit_ddpm(..., resume=True) to finish it"
        )
    config = DDPMConfig.from_dict(payload["config"])
    market = "market_state" in payload
    if config.market_feature_names and not market:
        raise ValueError(
            f"{source}: the configuration uses market_features "
            f"{config.market_features!r} but the checkpoint has no market_state"
        )
    net = restore_weights(Denoiser(DenoiserSpec(**payload["spec"])), payload)
    return DDPMModel(
        config=config,
        net=net,
        scaler=Scaler.from_dict(payload["scaler"]),
        schedule=config.noise_schedule(),
        data_hash=str(payload["data_hash"]),
        fit_end=str(payload["fit_end"]),
        metrics=dict(payload.get("metrics", {})),
        market=MarketState.from_dict(payload["market_state"]) if market else None,
    )


def load_checkpoint(path: str | os.PathLike[str]) -> DDPMModel:
    """Load a model written by :func:`fit_ddpm` / :meth:`DDPMModel.save`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a complete DDPM checkpoint.
    """
    return model_from_payload(read_checkpoint(path), str(path))


#: Fields left out of :func:`config_hash` while the market state is off, so that the hash
#: of a configuration without it is the one it had before these fields existed.
MARKET_FIELDS: tuple[str, ...] = (
    "market_features",
    "market_columns",
    "market_index",
    "market_window",
)


def config_hash(config: DDPMConfig) -> str:
    """First 16 hex digits of the SHA-256 of the configuration's sorted JSON.

    The :data:`MARKET_FIELDS` count only when ``config.market_features`` is set.
    """
    values = config.to_dict()
    if not config.market_feature_names:
        values = {k: v for k, v in values.items() if k not in MARKET_FIELDS}
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
