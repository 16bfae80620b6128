"""Scenario sets with audit metadata: generate, write, read, regenerate exactly."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.core import audit, io
from diffrisk.diffusion.weights_hash import model_version, weights_sha256
from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.stress.archetypes import Archetype
from diffrisk.stress.config import StressRangeWarning
from diffrisk.stress.generators import filtered_block_bootstrap_paths, multivariate_normal_paths
from diffrisk.stress.model import StressModel, load_stress_model
from diffrisk.stress.sampling import SamplerSettings, generate_paths
from diffrisk.stress.set_records import (
    generation_record,
    json_ready,
    rows_before,
    scenario_set_metadata,
)
from diffrisk.stress.signatures import out_of_range, range_detail, stress_signature
from diffrisk.stress.weight_calibration import DEFAULT_GUIDANCE_GRID, calibrate_weight
from diffrisk.stress.windows import conditioning_position
from diffrisk.volatility.ewma import ewma_volatility

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- scenario sets
#: The sampler keyword arguments of :func:`generate_paths`, recorded in every set's
#: ``generation`` metadata.
SAMPLER_KEYS: tuple[str, ...] = (*(f.name for f in fields(SamplerSettings)), "soft_bound")


def sampling_settings(
    sampler: str, n_steps: int, eta: float, spacing: str, order: int, soft_bound: float
) -> dict[str, Any]:
    """The sampling keyword arguments of :func:`generate_paths`, as one mapping."""
    return dict(zip(SAMPLER_KEYS, (sampler, n_steps, eta, spacing, order, soft_bound), strict=True))


def recorded_sampling(generation: Mapping[str, Any]) -> dict[str, Any]:
    """The sampler settings a diffusion set was drawn with (its ``generation`` metadata)."""
    return {k: generation[k] for k in SAMPLER_KEYS}


def calibrate_guidance(
    model: StressModel,
    returns: pd.DataFrame,
    signature: Mapping[str, float],
    as_of: Sequence[str | pd.Timestamp | None],
    grid: Sequence[float] = DEFAULT_GUIDANCE_GRID,
    *,
    n_paths_per_date: int = 200,
    seed: int,
    refine: int = 0,
    **sampling: Any,
) -> tuple[float, dict[str, Any]]:
    """The guidance weight whose pilot set comes closest to the requested signature.

    For each weight of ``grid`` a pilot set is drawn (same dates, ``n_paths_per_date``
    paths, ``seed``) and scored by the shared rule
    :func:`~diffrisk.stress.weight_calibration.calibrate_weight` (also used for the GAN's
    and VAE's conditioning gain): the largest relative error of its mean signature over
    the requested components that lie inside the training range (all components if none
    does); the smallest score wins, ties going to the smaller weight. Only the model and
    the request are used: no realised returns after the conditioning dates, so choosing
    the weight this way leaks nothing. The pilot is a separate draw from the final set.

    Parameters
    ----------
    model, returns, signature, as_of
        As in :func:`generate_paths` (an empty signature returns weight 0).
    grid : sequence of float
        Candidate weights (>= 0).
    n_paths_per_date : int
        Pilot paths per conditioning date.
    seed : int
        Seed of every pilot set.
    refine : int, default 0
        Extra pilot sets refining the weight between the best grid weight's neighbours
        (:func:`~diffrisk.stress.weight_calibration.calibrate_weight`).
    **sampling
        ``sampler``, ``n_steps``, ``eta``, ``spacing``, ``order``, ``soft_bound`` of
        :func:`generate_paths`.

    Returns
    -------
    weight : float
    record : dict
        The pilot record of :func:`~diffrisk.stress.weight_calibration.calibrate_weight`.
    """
    request = {k: float(v) for k, v in signature.items()}

    def draw(w: float) -> tuple[NDArray[np.float32], pd.DataFrame]:
        return generate_paths(
            model, returns, as_of, n_paths_per_date, request, guidance=w, seed=seed, **sampling
        )

    return calibrate_weight(
        draw,
        request,
        model.signature_bounds,
        grid,
        n_paths_per_date=n_paths_per_date,
        seed=seed,
        refine=refine,
    )


def generate_scenario_set(
    model: StressModel,
    returns: pd.DataFrame,
    archetype: Archetype,
    as_of: Sequence[str | None],
    n_paths_per_date: int,
    *,
    guidance: float | str,
    seed: int,
    soft_bound: float = 0.0,
    guidance_grid: Sequence[float] = DEFAULT_GUIDANCE_GRID,
    calibration_paths: int = 200,
    calibration_refine: int = 0,
    prior_neighbours: int = 0,
    checkpoint_sha256: str = "",
    data_sha256: str = "",
    params: Mapping[str, Any] | None = None,
    **sampling: Any,
) -> tuple[NDArray[np.float32], dict[str, Any]]:
    """Generate a diffusion scenario set and its audit metadata.

    The sampler settings are ``soft_bound`` and the ``**sampling`` keywords of
    :func:`generate_paths` (:class:`~diffrisk.stress.sampling.SamplerSettings`).

    A request outside the range of the training windows' signatures
    (:func:`diffrisk.stress.signatures.out_of_range` on ``model.signature_bounds``) is
    flagged in the metadata (``out_of_range``) and raises a :class:`StressRangeWarning`.

    ``guidance="auto"`` chooses the weight with :func:`calibrate_guidance` (a pilot set
    per weight of ``guidance_grid``, seed ``seed + 1``, then ``calibration_refine`` pilots
    between the best grid weight's neighbours); the chosen weight and the pilot
    errors are recorded in the metadata, so regeneration needs no calibration.
    ``prior_neighbours`` (sets without a request only) draws each path's signature from
    the history-nearest training windows (:func:`generate_paths`).

    Returns
    -------
    paths : ndarray float32 (n_dates * n_paths_per_date, H, n_assets)
    metadata : dict
        Everything needed to regenerate the set exactly (:func:`regenerate_scenario_set`):
        generator, archetype, signature, guidance, seed, conditioning dates, sampler
        settings, checkpoint SHA-256, ``model_version``
        (:func:`~diffrisk.stress.model.model_version`: ``stress@fit_end=<train_end>#<sha[:12]>``),
        SHA-256 of the returns read, plus the provenance
        record (:func:`diffrisk.core.audit.provenance`: params, data hash, package version,
        git revision, UTC timestamp).
    """
    settings = SamplerSettings.of("generate_scenario_set", sampling)
    flagged = out_of_range(archetype.signature, model.signature_bounds)
    if flagged:
        detail = range_detail(archetype.signature, model.signature_bounds)
        warnings.warn(
            f"archetype {archetype.name!r} requests a signature outside the range "
            f"seen in training ({detail}); the generator extrapolates",
            StressRangeWarning,
            stacklevel=2,
        )
    sampling = {**sampling, "soft_bound": soft_bound}
    prior = 0 if archetype.signature else int(prior_neighbours)
    calibration = None
    if isinstance(guidance, str):
        if guidance.strip().lower() != "auto":
            raise ValueError(f"guidance must be a number >= 0 or 'auto', got {guidance!r}")
        guidance, calibration = calibrate_guidance(
            model,
            returns,
            archetype.signature,
            as_of,
            guidance_grid,
            n_paths_per_date=calibration_paths,
            seed=int(seed) + 1,
            refine=calibration_refine,
            **sampling,
        )
    paths, dates = generate_paths(
        model,
        returns,
        as_of,
        n_paths_per_date,
        archetype.signature,
        guidance=guidance,
        seed=seed,
        prior_neighbours=prior,
        **sampling,
    )
    generation = {
        **generation_record("diffusion", archetype, float(guidance), seed, as_of, n_paths_per_date),
        **settings.record(),
        "soft_bound": float(soft_bound),
        "guidance_calibration": None if calibration is None else json_ready(calibration),
        "prior_neighbours": prior,
    }
    record = scenario_set_metadata(
        model,
        "stress",
        generation,
        dates,
        returns,
        as_of,
        flagged,
        seed=seed,
        checkpoint_sha256=checkpoint_sha256,
        data_sha256=data_sha256,
        params=params,
    )
    return paths, record


def write_scenario_set(
    path: str | Path, paths_: NDArray[np.float32], metadata: Mapping[str, Any]
) -> Path:
    """Write ``paths`` and its metadata to ``path`` (npz) and ``<path stem>.audit.json``.

    The npz holds ``paths`` (float32), ``assets`` and ``metadata`` (the JSON text), so the
    set is self-describing; both files are written atomically.
    """
    text = json.dumps(json_ready(dict(metadata)), sort_keys=True)
    out = io.write_npz(
        path,
        paths=np.asarray(paths_, dtype=np.float32),
        assets=np.asarray(metadata.get("assets", []), dtype=str),
        metadata=np.asarray(text),
    )
    audit.write_provenance(Path(path).with_suffix(".audit.json"), json.loads(text))
    return out


#: File name of the index of a folder of scenario sets (``stress_generate`` writes it in
#: ``data/stress/``): the resolved archetypes, one row per set, the checkpoint hash, H.
SET_INDEX = "index.json"


def read_set_index(directory: str | Path) -> dict[str, Any]:
    """The :data:`SET_INDEX` of a folder of scenario sets (``archetypes``, ``sets``, ...).

    Raises
    ------
    FileNotFoundError
        Naming the file and the stage that writes it, when it does not exist.
    """
    path = Path(directory) / SET_INDEX
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the stress_generate stage")
    return json.loads(path.read_text())


def read_scenario_set(path: str | Path) -> tuple[NDArray[np.float32], dict[str, Any]]:
    """Read a set written by :func:`write_scenario_set`: ``(paths, metadata)``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"scenario set {p} does not exist: run the stress_generate stage")
    with np.load(p, allow_pickle=False) as z:
        return z["paths"], json.loads(str(z["metadata"]))


def regenerate_scenario_set(
    metadata: Mapping[str, Any], returns: pd.DataFrame, checkpoint: str | Path
) -> NDArray[np.float32]:
    """Regenerate a diffusion scenario set from its metadata (the audit round trip).

    Parameters
    ----------
    metadata : mapping
        As written by :func:`generate_scenario_set`.
    returns : DataFrame
        Constituent returns; the rows before the latest conditioning date must hash to the
        recorded ``returns_sha256``.
    checkpoint : path
        The model file; the SHA-256 of its weights must equal the recorded
        ``checkpoint_sha256``.

    Returns
    -------
    ndarray float32
        The set, identical to the original on the same software and thread count.

    Raises
    ------
    ValueError
        If the checkpoint, the data or the generator differ from the record.
    """
    gen = metadata.get("generation", {})
    if gen.get("generator") != "diffusion":
        raise ValueError(
            f"metadata generator is {gen.get('generator')!r}; only 'diffusion' "
            f"sets are regenerated from a checkpoint"
        )
    sha = weights_sha256(checkpoint)
    if sha != metadata.get("checkpoint_sha256"):
        raise ValueError(
            f"checkpoint {checkpoint} has SHA-256 {sha[:12]}…, the set was made "
            f"with {str(metadata.get('checkpoint_sha256'))[:12]}…"
        )
    used = audit.frame_sha256(rows_before(returns, gen["as_of"]))
    if used != metadata.get("returns_sha256"):
        raise ValueError(
            "returns differ from those the set was generated from (returns_sha256 mismatch)"
        )
    model = load_stress_model(checkpoint)
    archetype = Archetype(gen["archetype"], dict(gen["signature"]))
    paths_, _ = generate_paths(
        model,
        returns,
        gen["as_of"],
        gen["n_paths_per_date"],
        archetype.signature,
        guidance=gen["guidance"],
        seed=gen["seed"],
        prior_neighbours=gen["prior_neighbours"],
        **recorded_sampling(gen),
    )
    return paths_


def baseline_scenario_set(
    kind: str,
    returns: pd.DataFrame,
    train_end: str | pd.Timestamp,
    as_of: Sequence[str | None],
    n_paths_per_date: int,
    horizon: int,
    *,
    seed: int,
    block: int = 5,
    lam: float = 0.94,
    warmup: int = 30,
) -> tuple[NDArray[np.float32], dict[str, Any]]:
    """A simple generator's set from the same conditioning dates as a diffusion set.

    ``kind="normal"``: :func:`diffrisk.stress.generators.multivariate_normal_paths` with the
    training mean and covariance (the same law at every date). ``kind="bootstrap"``:
    :func:`~diffrisk.stress.generators.filtered_block_bootstrap_paths` of training days,
    started at each date's EWMA volatility (returns strictly before the date), seed
    ``seed + i`` for date i. Both fit on rows up to ``train_end`` only.

    Returns
    -------
    paths : ndarray float32 (n_dates * n_paths_per_date, horizon, n_assets)
    metadata : dict
        Generator settings, conditioning dates and volatilities, ``model_version``
        (``<kind>@fit_end=<train_end>``; no provenance record: the stage adds it).
    """
    train = returns.loc[returns.index <= pd.Timestamp(train_end)].to_numpy(dtype=float)
    arr = returns.to_numpy(dtype=float)
    n = int(n_paths_per_date)
    vols = []
    for d in as_of:
        past = arr[: conditioning_position(returns.index, d)]
        vols.append(float(ewma_volatility(portfolio_log_returns(past), lam=lam, warmup=warmup)[-1]))
    if kind == "normal":
        paths_ = multivariate_normal_paths(train, n * len(as_of), horizon, seed)
    elif kind == "bootstrap":
        parts = []
        for i, d in enumerate(as_of):
            past = arr[: conditioning_position(returns.index, d)]
            vol_now = ewma_volatility(past, lam=lam, warmup=warmup)[-1]
            parts.append(
                filtered_block_bootstrap_paths(
                    train, n, horizon, block, seed + i, vol_now, lam=lam, warmup=warmup
                )
            )
        paths_ = np.concatenate(parts)
    else:
        raise ValueError(f"kind must be 'normal' or 'bootstrap', got {kind!r}")
    meta = {
        "generation": {
            "generator": kind,
            "seed": int(seed),
            "block": int(block),
            "n_paths_per_date": n,
            "as_of": [None if d in (None, "") else str(pd.Timestamp(d).date()) for d in as_of],
        },
        "conditioning": {"portfolio_vol": vols},
        "assets": [str(c) for c in returns.columns],
        "horizon": int(horizon),
        "model_version": model_version(kind, train_end),
    }
    return paths_, meta


def achieved_signatures(paths_: NDArray[np.floating], metadata: Mapping[str, Any]) -> pd.DataFrame:
    """Stress signature of every path of a set, with each path's own volatility forecast."""
    vols = np.asarray(metadata["conditioning"]["portfolio_vol"], dtype=float)
    n = int(metadata["generation"]["n_paths_per_date"])
    return stress_signature(paths_, np.repeat(vols, n))
