"""Sampling front-end and scenario sets of the GAN and VAE comparison generators.

:func:`comparison_paths` has the call shape of :func:`diffrisk.stress.sampling.generate_paths`
(``model, returns, as_of, n_paths_per_date, signature, *, seed``), so code that consumes
paths (the adversarial audit, the HTTP service, the validation stage) can swap
generators; :func:`comparison_scenario_set` returns ``(paths, metadata)`` with the audit
metadata of :func:`diffrisk.stress.scenario_sets.generate_scenario_set`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from diffrisk.core import audit
from diffrisk.diffusion.progress import progress_bar
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stress.archetypes import Archetype
from diffrisk.stress.comparison import ComparisonModel, load_comparison_model
from diffrisk.stress.config import StressRangeWarning
from diffrisk.stress.model import as_float_tensor
from diffrisk.stress.sampling import (
    SAMPLING_CHUNK,
    check_paths_request,
    draw_prior_signatures,
)
from diffrisk.stress.set_records import (
    generation_record,
    json_ready,
    rows_before,
    scenario_set_metadata,
)
from diffrisk.stress.signatures import SIGNATURE_COLUMNS, out_of_range
from diffrisk.stress.weight_calibration import DEFAULT_GUIDANCE_GRID, calibrate_weight
from diffrisk.stress.windows import conditioning_batch

logger = logging.getLogger(__name__)


@torch.no_grad()
def comparison_paths(
    model: ComparisonModel,
    returns: pd.DataFrame,
    as_of: Sequence[str | pd.Timestamp | None],
    n_paths_per_date: int,
    signature: Mapping[str, float] | None,
    *,
    seed: int,
    prior_neighbours: int = 0,
    chunk: int = SAMPLING_CHUNK,
    progress: bool | None = None,
    gain: float = 1.0,
) -> tuple[NDArray[np.float32], pd.DataFrame]:
    """Generate joint H-day paths from a GAN or VAE for one or several conditioning dates.

    Parameters
    ----------
    model : ComparisonModel
    returns, as_of, n_paths_per_date : see :func:`~diffrisk.stress.sampling.generate_paths`.
    signature : mapping or None
        Requested (partial) signature in raw units (e.g. ``{"vol_ratio": 2.0}``); the
        absent components get their null token. None or empty = unconditional.
    seed : int
        Seed of the :class:`torch.Generator` of the latents (and of the prior draws); all
        latents are drawn at once, so the draws do not depend on ``chunk`` (the paths only
        up to float rounding).
    prior_neighbours : int
        Only without a request: 0 = the null signature (the model's unconditional
        branch); K > 0 = each path's signature drawn from the K training windows nearest
        in history features (:func:`~diffrisk.stress.sampling.draw_prior_signatures`, the
        diffusion model's two-stage sampler).
    chunk : int, default :data:`~diffrisk.stress.sampling.SAMPLING_CHUNK`
        Paths per network call (memory and cache only).
    progress : bool, optional
    gain : float
        Conditioning gain w of a request: the network sees ``w`` times the request's
        standardised deviation from the training-mean signature
        (:func:`comparison_scenario_set`);
        1 = the plain request. Ignored without a request.

    Returns
    -------
    paths : ndarray float32 (n_dates * n_paths_per_date, H, n_assets)
        Daily log returns; the paths of date i at rows ``i*n .. (i+1)*n - 1``.
    dates : DataFrame
        ``as_of``, ``last_history``, ``portfolio_vol`` per conditioning date.
    """
    request = check_paths_request(model, returns, n_paths_per_date, prior_neighbours, signature)
    cfg, n = model.config, int(n_paths_per_date)
    inputs, dates_frame = conditioning_batch(returns, as_of, cfg)
    history = np.stack([i.history for i in inputs])
    sigma = np.stack([i.sigma for i in inputs])
    port = np.array([i.portfolio_vol for i in inputs])
    features = model.scalars(sigma, port, history)
    n_sig = len(SIGNATURE_COLUMNS)
    if request:
        values, mask = model.signature_input(pd.DataFrame([request] * len(inputs)), port)
        values, mask = np.repeat(values * float(gain), n, 0), np.repeat(mask, n, 0)
    elif prior_neighbours:
        values = draw_prior_signatures(model, features, n, int(prior_neighbours), int(seed))  # type: ignore[arg-type]
        mask = np.zeros_like(values)
    else:
        values, mask = np.zeros((len(inputs) * n, n_sig)), np.ones((len(inputs) * n, n_sig))
    total, spec = len(inputs) * n, model.net.spec
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(total, spec.latent_channels, spec.horizon, generator=gen)
    eps = (
        torch.randn(total, spec.n_assets, spec.horizon, generator=gen)
        if model.kind == "vae"
        else None
    )
    net = model.net.eval()
    cond = {
        "history": as_float_tensor(np.repeat(history, n, 0)),
        "scalars": as_float_tensor(np.repeat(features, n, 0)),
        "signature": as_float_tensor(values),
        "mask": as_float_tensor(mask),
    }
    parts = []
    with progress_bar(-(-total // chunk), f"{model.kind} sampling", progress, leave=False) as bar:
        for s in range(0, total, int(chunk)):
            rows_ = slice(s, s + int(chunk))
            emb = net.condition({k: v[rows_] for k, v in cond.items()})
            parts.append(net(z[rows_], emb, None if eps is None else eps[rows_]))
            bar.update(1)
    scaled = torch.cat(parts).numpy().astype(np.float64) * model.path_scale
    paths = np.swapaxes(scaled * np.repeat(sigma, n, axis=0)[:, :, None], 1, 2)
    return paths.astype(np.float32), dates_frame


def calibrate_gain(
    model: ComparisonModel,
    returns: pd.DataFrame,
    as_of: Sequence[str | pd.Timestamp | None],
    signature: Mapping[str, float],
    *,
    seed: int,
    grid: Sequence[float] = DEFAULT_GUIDANCE_GRID,
    n_paths_per_date: int = 200,
    refine: int = 0,
) -> tuple[float, dict[str, Any]]:
    """The conditioning gain of a GAN/VAE request, by the rule of the guidance weight.

    One pilot set per gain of ``grid`` (``n_paths_per_date`` paths per date of ``as_of``,
    seed ``seed + 1``: a separate draw from a set drawn with ``seed``) is scored by
    :func:`~diffrisk.stress.weight_calibration.calibrate_weight`; the smallest largest
    relative error over the in-range requested components wins, ties going to the smaller
    gain; ``refine`` more pilots then search between the best grid gain's neighbours. Only
    the model, the rows before the conditioning dates and the request are read.

    Returns
    -------
    gain : float
    record : dict
        The pilot record of :func:`~diffrisk.stress.weight_calibration.calibrate_weight`.

    Raises
    ------
    ValueError
        If ``grid`` is empty or holds a negative or non-finite gain (naming
        ``guidance_grid (conditioning gains)``).
    """
    pilot_n, pilot_seed = int(n_paths_per_date), int(seed) + 1

    def draw(w: float) -> tuple[NDArray[np.float32], pd.DataFrame]:
        return comparison_paths(model, returns, as_of, pilot_n, signature, seed=pilot_seed, gain=w)

    return calibrate_weight(
        draw,
        signature,
        model.signature_bounds,
        grid,
        n_paths_per_date=pilot_n,
        seed=pilot_seed,
        name=f"{model.kind} conditioning gain",
        grid_name="guidance_grid (conditioning gains)",
        refine=refine,
    )


def comparison_scenario_set(
    model: ComparisonModel,
    returns: pd.DataFrame,
    archetype: Archetype,
    as_of: Sequence[str | None],
    n_paths_per_date: int,
    *,
    seed: int,
    prior_neighbours: int = 0,
    checkpoint_sha256: str = "",
    data_sha256: str = "",
    params: Mapping[str, Any] | None = None,
    calibration: str = "none",
    guidance_grid: Sequence[float] = DEFAULT_GUIDANCE_GRID,
    calibration_paths: int = 200,
    calibration_refine: int = 0,
) -> tuple[NDArray[np.float32], dict[str, Any]]:
    """A GAN or VAE scenario set and its audit metadata.

    The metadata has the layout of :func:`~diffrisk.stress.scenario_sets.generate_scenario_set`
    (``generation``, ``conditioning``, ``assets``, ``horizon``, ``checkpoint_sha256``,
    ``returns_sha256``, ``out_of_range``, library versions, provenance), with
    ``generation.generator`` the model's kind and ``guidance`` None (the signature is an
    input of the network). A request outside the training signature range is flagged and
    raises a :class:`StressRangeWarning`. ``prior_neighbours`` applies to sets without a
    request only.

    ``calibration="auto"`` (``stress.generate.comparison_calibration``) chooses a request's
    conditioning gain w by the diffusion model's guidance rule (:func:`calibrate_gain`, as
    :func:`~diffrisk.stress.scenario_sets.calibrate_guidance` does for the guidance weight):
    a pilot set per gain of ``guidance_grid`` (``calibration_paths`` paths per date, seed
    ``seed + 1``, a separate draw from the set), the smallest largest relative error over
    the in-range requested components winning, ties going to the smaller gain, then
    ``calibration_refine`` pilots between the best grid gain's neighbours.
    ``generation`` records the gain as ``conditioning_gain`` with the pilot record
    ``guidance_calibration`` (regeneration needs no calibration); ``"none"`` conditions on
    the plain request (both None). Only the model, the rows before the conditioning dates
    and the request are read.

    The gain scales the request in the network's input space: a requested component
    enters as ``w * (f - mean) / std`` (``f`` its conditioning feature,
    :func:`~diffrisk.stress.signatures.signature_features`; ``mean``, ``std`` over the
    training windows), so w = 1 is the plain request and w > 1 extrapolates away from the
    typical signature, as a guidance weight > 1 extrapolates away from the unconditional
    prediction. w = 0 requests the training-mean features (``vol_ratio`` at its geometric
    training mean): still a request (mask 0), not the null token of an absent component,
    so unlike guidance 0 it is not the unconditional model.
    """
    mode = str(calibration).strip().lower()
    if mode not in ("auto", "none"):
        raise ValueError(
            f"calibration (stress.generate.comparison_calibration) must be 'auto' or 'none', "
            f"got {calibration!r}"
        )
    flagged = out_of_range(archetype.signature, model.signature_bounds)
    if flagged:
        warnings.warn(
            f"archetype {archetype.name!r} requests {flagged} outside the range seen in "
            f"training; the {model.kind} extrapolates",
            StressRangeWarning,
            stacklevel=2,
        )
    prior = 0 if archetype.signature else int(prior_neighbours)
    gain, calibrated = None, None
    if mode == "auto" and archetype.signature:
        gain, calibrated = calibrate_gain(
            model,
            returns,
            as_of,
            archetype.signature,
            seed=seed,
            grid=guidance_grid,
            n_paths_per_date=calibration_paths,
            refine=calibration_refine,
        )
    paths_, dates = comparison_paths(
        model,
        returns,
        as_of,
        n_paths_per_date,
        archetype.signature,
        seed=seed,
        prior_neighbours=prior,
        gain=1.0 if gain is None else gain,
    )
    generation = {
        **generation_record(model.kind, archetype, None, seed, as_of, n_paths_per_date),
        "prior_neighbours": prior,
        "conditioning_gain": gain,
        "guidance_calibration": None if calibrated is None else json_ready(calibrated),
    }
    record = scenario_set_metadata(
        model,
        model.kind,
        generation,
        dates,
        returns,
        as_of,
        flagged,
        seed=seed,
        checkpoint_sha256=checkpoint_sha256,
        data_sha256=data_sha256,
        params=params,
        versions={"numpy_version": np.__version__, "pandas_version": pd.__version__},
    )
    return paths_, record


def regenerate_comparison_set(
    metadata: Mapping[str, Any], returns: pd.DataFrame, checkpoint: str | Path
) -> NDArray[np.float32]:
    """Regenerate a GAN or VAE set from its metadata (checkpoint and data hashes checked).

    The recorded ``conditioning_gain`` is applied (absent or None: the plain request).
    """
    gen = metadata.get("generation", {})
    sha = weights_sha256(checkpoint)
    if sha != metadata.get("checkpoint_sha256"):
        raise ValueError(f"checkpoint {checkpoint} differs from the one the set was made with")
    if audit.frame_sha256(rows_before(returns, gen["as_of"])) != metadata.get("returns_sha256"):
        raise ValueError("returns differ from those the set was generated from (returns_sha256)")
    model = load_comparison_model(checkpoint, gen.get("generator"))
    paths_, _ = comparison_paths(
        model,
        returns,
        gen["as_of"],
        gen["n_paths_per_date"],
        gen["signature"],
        seed=gen["seed"],
        prior_neighbours=gen["prior_neighbours"],
        gain=1.0 if gen.get("conditioning_gain") is None else gen["conditioning_gain"],
    )
    return paths_
