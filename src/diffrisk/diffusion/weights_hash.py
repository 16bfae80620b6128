"""The identity of a fitted network: a SHA-256 of its weights, not of its checkpoint file.

A checkpoint also holds the training history (per-epoch losses *and wall times*), so two
runs that fit the same weights write files with different bytes. Model versions
(``stress@fit_end=2019-12-31#<12 hex digits>``, written into committed tables and
metrics) and the checks that a scenario set was made with a given checkpoint use this hash
instead, so a rerun that moves no weight changes no committed file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch

from diffrisk.diffusion.checkpoints import read_checkpoint


def state_dict_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of a ``state_dict``: every tensor's name, dtype, shape and bytes, by name.

    Parameters
    ----------
    state_dict : mapping of str to Tensor
        The network's parameters and buffers.

    Returns
    -------
    str
        64 hex digits; equal for equal weights whatever the insertion order.
    """
    h = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        h.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def weights_sha256(checkpoint: str | os.PathLike[str] | Mapping[str, Any]) -> str:
    """SHA-256 of the network weights of a checkpoint (its ``state_dict`` only).

    Parameters
    ----------
    checkpoint : path or mapping
        A checkpoint written by :func:`~diffrisk.diffusion.checkpoints.save_checkpoint`
        (DDPM, stress diffusion, GAN or VAE) or its loaded payload.

    Returns
    -------
    str
        :func:`state_dict_sha256` of the payload's ``state_dict``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the payload has no ``state_dict``.
    """
    payload = checkpoint if isinstance(checkpoint, Mapping) else read_checkpoint(checkpoint)
    state = payload.get("state_dict")
    if not isinstance(state, Mapping):
        source = "payload" if isinstance(checkpoint, Mapping) else str(checkpoint)
        raise ValueError(f"checkpoint {source} has no 'state_dict' of network weights")
    return state_dict_sha256(state)


def model_version(generator: str, fit_end: str | pd.Timestamp, sha256: str = "") -> str:
    """The version string of a fitted generator, recorded in every scenario set's metadata.

    Parameters
    ----------
    generator : str
        ``"stress"`` for the diffusion model, else the comparison generator's name.
    fit_end : date
        Last day of the data the generator was fitted on.
    sha256 : str
        SHA-256 of the checkpoint's network weights
        (:func:`diffrisk.diffusion.weights_hash.weights_sha256`, not of the file, whose
        training history holds wall times; the first 12 hex digits are kept); empty for
        a generator without one (then the string names the fit only).

    Examples
    --------
    >>> model_version("stress", "2019-12-31", "0123456789abcdef" * 4)
    'stress@fit_end=2019-12-31#0123456789ab'
    >>> model_version("normal", "2014-12-31")
    'normal@fit_end=2014-12-31'
    """
    if not str(generator).strip():
        raise ValueError("generator must be a non-empty name")
    text = f"{generator}@fit_end={pd.Timestamp(fit_end).date()}"
    return f"{text}#{sha256[:12]}" if sha256 else text
