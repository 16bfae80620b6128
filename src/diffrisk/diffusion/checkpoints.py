"""Checkpoints of the diffusion models: atomic, byte-stable writes and loads.

Every model of the package (the one-day DDPM and its student, the stress model, its GAN
and VAE peers and students) saves through :func:`save_checkpoint` and loads through
:func:`read_checkpoint` and :func:`restore_weights`. A checkpoint holds no wall-clock time
(:func:`without_timings`, :func:`metrics_without_timings`), so the same seed and data give
the same bytes on every run and DVC reruns nothing below an unchanged model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar

import torch

from diffrisk.core import io


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` with :func:`torch.save` atomically (temp file + rename).

    Serialised to memory first: :func:`torch.save` names the records inside the file after
    the file it writes, and the temporary name is random, so saving to the file directly
    would give the same payload a different SHA-256 on every run. For the same reason the
    wall times are left out (:func:`without_timings`) of a top-level ``history`` and of a
    ``metrics`` mapping (its keys and its ``history``): the same seed and data write the same
    bytes, so a rerun that reproduces the weights leaves the file, and every pipeline stage
    that reads it, unchanged; the timings stay in the caller's in-memory metrics and the
    stage's records.
    """
    if "history" in payload:
        payload = {**payload, "history": without_timings(payload["history"])}
    if isinstance(payload.get("metrics"), Mapping):
        payload = {**payload, "metrics": metrics_without_timings(payload["metrics"])}
    buffer = BytesIO()
    torch.save(payload, buffer)
    with io.atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return Path(path)


#: Substrings that mark a wall-clock key (``seconds``, ``recording_seconds``, ``wall_time_s``).
TIMING_KEY_MARKERS: tuple[str, ...] = ("seconds", "wall_time")


def is_timing_key(key: object) -> bool:
    """Whether ``key`` names a wall-clock measurement (see :data:`TIMING_KEY_MARKERS`)."""
    return isinstance(key, str) and any(m in key for m in TIMING_KEY_MARKERS)


def without_timings(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A training history without its wall-clock entries (:func:`is_timing_key`).

    What a checkpoint (:func:`save_checkpoint`) and a committed record store, so that the
    same seed and data give the same bytes on every run.
    """
    return [{k: v for k, v in h.items() if not is_timing_key(k)} for h in history]


def metrics_without_timings(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A fit's metrics without wall-clock keys, its ``history`` (if a list) likewise."""
    kept = {k: v for k, v in metrics.items() if not is_timing_key(k)}
    if isinstance(kept.get("history"), list):
        kept["history"] = without_timings(kept["history"])
    return kept


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (raises naming a missing file)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {p} does not exist")
    return torch.load(p, map_location="cpu", weights_only=False)


ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def restore_weights(net: ModuleT, payload: Mapping[str, Any]) -> ModuleT:
    """``net`` with a checkpoint payload's ``state_dict`` loaded, in eval mode (returned).

    The last step of every model loader (:func:`read_checkpoint` gives the payload).
    """
    net.load_state_dict(payload["state_dict"])
    net.eval()
    return net
