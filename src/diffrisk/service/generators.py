"""The servable generators: the pipeline's checkpoints and settings behind one interface.

A :class:`Generator` draws paths for a :class:`Draw` (signature, conditioning date, number
of paths, seed, guidance). :func:`load_registry` builds every generator the pipeline's
outputs allow: the diffusion stress model (``models/stress.pt``), the GAN and VAE
comparison generators (``models/stress_gan.pt``, ``models/stress_vae.pt``, when the
``stress_train`` stage has written them) and the two simple baselines
(multivariate normal, filtered block bootstrap), fitted on the model's training period
only, exactly as the ``stress_generate`` stage does. Nothing is trained here: the sampler
settings, the archetypes, the calibrated guidance weight of each archetype (diffusion)
and its calibrated conditioning gain (GAN, VAE) are read from the ``stress_generate``
audit sidecars (:mod:`diffrisk.service.records`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.core import audit
from diffrisk.diffusion.weights_hash import model_version, weights_sha256
from diffrisk.service.records import (
    ArchetypeRecord,
    Draw,
    GainCalibration,
    PipelineOutputsMissing,
    read_archetypes,
    read_conditioning_gains,
    read_json,
    read_returns,
)
from diffrisk.stress.comparison import (
    COMPARISON_GENERATORS,
    ComparisonModel,
    load_comparison_model,
)
from diffrisk.stress.comparison_sets import comparison_paths
from diffrisk.stress.config import UNCONDITIONAL
from diffrisk.stress.model import StressModel, load_stress_model
from diffrisk.stress.sampling import generate_paths
from diffrisk.stress.scenario_sets import baseline_scenario_set

logger = logging.getLogger(__name__)


@dataclass
class Generator:
    """A servable generator version.

    Attributes
    ----------
    name : str
    version : str
        12 hex digits: the checkpoint's SHA-256 prefix, or for a baseline the hash of its
        training rows and settings.
    kind : str
        ``diffusion``, ``baseline`` or ``checkpoint``.
    guided : bool
        Whether it takes a classifier-free guidance weight (diffusion).
    conditioned : bool
        Whether it takes a stress signature (diffusion, GAN, VAE).
    horizon : int
    assets : list of str
    info : dict
        ``data_sha256``, ``config``, ``training_period``, ``validation``, ... for
        ``GET /models``.
    sample : callable
        ``sample(draw) -> (paths (n, H, A) float32, conditioning record)``.
    """

    name: str
    version: str
    kind: str
    guided: bool
    conditioned: bool
    horizon: int
    assets: list[str]
    info: dict[str, Any]
    sample: Callable[[Draw], tuple[NDArray[np.float32], dict[str, Any]]] = field(repr=False)

    def public(self) -> dict[str, Any]:
        """JSON form for ``GET /models``."""
        return {
            "generator": self.name,
            "version": self.version,
            "kind": self.kind,
            "guided": self.guided,
            "conditioned": self.conditioned,
            "horizon": self.horizon,
            "assets": self.assets,
            **self.info,
        }


@dataclass
class Registry:
    """Generators by name (each a list of versions, latest last) and the archetypes."""

    generators: dict[str, list[Generator]]
    archetypes: dict[str, ArchetypeRecord]
    returns: pd.DataFrame
    data_sha256: str
    min_history: int = 1

    def as_of_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last allowed conditioning date (enough history; at most the next day)."""
        return as_of_bounds(self.returns.index, self.min_history)

    def add(self, generator: Generator) -> None:
        """Serve ``generator`` as the latest version of its name (ValueError if it is served)."""
        versions = self.generators.setdefault(generator.name, [])
        if any(g.version == generator.version for g in versions):
            raise ValueError(f"{generator.name!r} version {generator.version} is already served")
        versions.append(generator)

    def get(self, name: str, version: str = "latest") -> Generator:
        """The generator ``name`` at ``version`` (KeyError naming what exists)."""
        if name not in self.generators:
            raise KeyError(f"unknown generator {name!r}; available: {sorted(self.generators)}")
        versions = self.generators[name]
        if version == "latest":
            return versions[-1]
        for g in versions:
            if g.version == version or (len(version) >= 12 and g.version.startswith(version[:12])):
                return g
        raise KeyError(
            f"unknown model version {version!r} of {name!r}; available: "
            f"{[g.version for g in versions]}"
        )


def as_of_bounds(index: pd.DatetimeIndex, min_history: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last conditioning date of a model that reads ``min_history`` rows.

    The first date has ``min_history`` rows strictly before it; the last is the business
    day after the last row (history = every row).
    """
    first = index[min(min_history, len(index) - 1)]
    return first, index[-1] + pd.offsets.BDay(1)


def _conditioning_record(
    dates: pd.DataFrame, draw: Draw, settings: Mapping[str, Any], gain: float | None
) -> dict:
    """What a checkpoint generator conditioned on (recorded in the set's metadata)."""
    row = dates.iloc[0]
    return {
        "as_of": str(pd.Timestamp(row["as_of"]).date()) if pd.notna(row["as_of"]) else None,
        "last_history": str(pd.Timestamp(row["last_history"]).date()),
        "portfolio_vol": float(row["portfolio_vol"]),
        "sampling": dict(settings),
        "prior_neighbours": 0 if draw.signature else int(draw.prior_neighbours),
        "conditioning_gain": gain,
    }


def _checkpoint_info(
    model: StressModel | ComparisonModel,
    returns: pd.DataFrame,
    checkpoint_sha256: str,
    checkpoint_audit: Mapping[str, Any],
    validation_keys: tuple[str, ...],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """``GET /models`` facts of a trained generator, from its checkpoint and audit record."""
    outputs = dict(checkpoint_audit.get("outputs", {}))
    return {
        "checkpoint_sha256": checkpoint_sha256,
        "model_version": model_version(
            getattr(model, "kind", "stress"), model.train_end, checkpoint_sha256
        ),
        "data_sha256": checkpoint_audit.get("data_sha256", ""),
        "config": model.config.to_dict(),
        "training_period": {"first": str(returns.index[0].date()), "last": model.train_end},
        "validation": {k: outputs[k] for k in validation_keys if k in outputs},
        "signature_range": model.signature_bounds.to_dict(orient="index"),
        "trained_at": checkpoint_audit.get("utc_timestamp"),
        "sampling": dict(settings),
    }


@dataclass(frozen=True)
class CheckpointKind:
    """How a trained checkpoint draws and what ``GET /models`` reports of it.

    ``draw_paths(model, returns, dates, n_paths, signature, *, guidance | gain, seed,
    prior_neighbours, progress, **sampling)`` draws the paths (``generate_paths`` of the
    diffusion model, ``comparison_paths`` of the GAN/VAE).
    """

    name: str
    kind: str
    draw_paths: Callable[..., tuple[NDArray[np.float32], pd.DataFrame]]
    validation_keys: tuple[str, ...]


def checkpoint_generator(
    source: CheckpointKind,
    model: StressModel | ComparisonModel,
    returns: pd.DataFrame,
    checkpoint_sha256: str,
    checkpoint_audit: Mapping[str, Any],
    sampling: Mapping[str, Any] | None = None,
    gain_for: Callable[[Draw], float] | None = None,
) -> Generator:
    """A trained checkpoint as a :class:`Generator`, drawing with ``source.draw_paths``.

    ``sampling`` (the pipeline's sampler settings) makes the generator guided: each draw
    passes its guidance weight and these settings to ``source.draw_paths``; an unguided
    checkpoint (GAN, VAE) gets the conditioning gain ``gain_for(draw)`` instead.
    """
    guided = sampling is not None
    settings = dict(sampling or {})

    def sample(draw: Draw) -> tuple[NDArray[np.float32], dict[str, Any]]:
        gain = None if guided or gain_for is None else float(gain_for(draw))
        weight = {"guidance": float(draw.guidance or 0.0)} if guided else {"gain": gain}
        paths_, dates = source.draw_paths(
            model,
            returns,
            [draw.as_of],
            draw.n_paths,
            draw.signature,
            **weight,
            seed=draw.seed,
            prior_neighbours=0 if draw.signature else draw.prior_neighbours,
            progress=False,
            **settings,
        )
        return paths_, _conditioning_record(dates, draw, settings, gain)

    info = _checkpoint_info(
        model, returns, checkpoint_sha256, checkpoint_audit, source.validation_keys, settings
    )
    return Generator(
        name=source.name,
        version=checkpoint_sha256[:12],
        kind=source.kind,
        guided=guided,
        conditioned=True,
        horizon=int(model.config.horizon),
        assets=list(model.assets),
        info=info,
        sample=sample,
    )


def diffusion_generator(
    model: StressModel,
    returns: pd.DataFrame,
    checkpoint_sha256: str,
    checkpoint_audit: Mapping[str, Any],
    sampling: Mapping[str, Any],
) -> Generator:
    """The diffusion stress model as a :class:`Generator` (pipeline sampler settings)."""
    keys = ("best_val_loss", "best_epoch", "epochs_run")
    source = CheckpointKind("diffusion", "diffusion", generate_paths, keys)
    return checkpoint_generator(
        source, model, returns, checkpoint_sha256, checkpoint_audit, sampling
    )


def comparison_generator(
    model: ComparisonModel,
    returns: pd.DataFrame,
    checkpoint_sha256: str,
    checkpoint_audit: Mapping[str, Any],
    calibration: GainCalibration | None = None,
) -> Generator:
    """A GAN or VAE comparison generator (conditioned on the signature, no guidance).

    Each draw passes its conditioning gain (:attr:`Draw.gain`) to
    :func:`~diffrisk.stress.comparison_sets.comparison_paths`; a draw with ``gain=None``
    and a signature gets the gain ``calibration`` chooses for it (1 without one).
    ``info["gain_calibration"]`` says which.
    """
    keys = ("best_epoch", "best_score", "epochs_run", "selection")
    source = CheckpointKind(model.kind, "checkpoint", comparison_paths, keys)

    def gain_for(draw: Draw) -> float:
        if draw.gain is not None:
            return draw.gain
        if calibration is None or not draw.signature:
            return 1.0
        return calibration.gain(model, returns, draw)

    gen = checkpoint_generator(
        source, model, returns, checkpoint_sha256, checkpoint_audit, gain_for=gain_for
    )
    gen.info["gain_calibration"] = (
        None
        if calibration is None
        else {
            "grid": list(calibration.grid),
            "n_paths_per_date": calibration.n_paths_per_date,
            "refine": calibration.refine,
        }
    )
    return gen


def baseline_generator(
    kind: str,
    returns: pd.DataFrame,
    train_end: str,
    horizon: int,
    *,
    block: int,
    lam: float,
    warmup: int,
    data_sha256: str,
) -> Generator:
    """A comparison baseline (``normal`` or ``bootstrap``) fitted on rows up to ``train_end``."""
    train = returns.loc[returns.index <= pd.Timestamp(train_end)]
    settings = {"block": int(block), "lam": float(lam), "warmup": int(warmup)}
    fingerprint = json.dumps(
        {"kind": kind, "train": audit.frame_sha256(train), **settings}, sort_keys=True
    )
    version = hashlib.sha256(fingerprint.encode()).hexdigest()[:12]

    def sample(draw: Draw) -> tuple[NDArray[np.float32], dict[str, Any]]:
        paths_, meta = baseline_scenario_set(
            kind,
            returns,
            train_end,
            [draw.as_of],
            draw.n_paths,
            horizon,
            seed=draw.seed,
            **settings,
        )
        return paths_, {
            "as_of": meta["generation"]["as_of"][0],
            "portfolio_vol": float(meta["conditioning"]["portfolio_vol"][0]),
            "settings": settings,
        }

    return Generator(
        name=kind,
        version=version,
        kind="baseline",
        guided=False,
        conditioned=False,
        horizon=int(horizon),
        assets=[str(c) for c in returns.columns],
        info={
            "data_sha256": data_sha256,
            "config": settings,
            "training_period": {"first": str(train.index[0].date()), "last": str(train_end)},
            "validation": {},
            "fitted_rows_sha256": audit.frame_sha256(train),
        },
        sample=sample,
    )


def load_registry(
    models_dir: Path, returns_file: Path, stress_dir: Path, default_guidance: float
) -> Registry:
    """Every servable generator from the pipeline's outputs.

    Raises
    ------
    PipelineOutputsMissing
        If ``models_dir/stress.pt``, its audit record, the returns file or the
        ``stress_generate`` records are missing.
    """
    checkpoint = models_dir / "stress.pt"
    if not checkpoint.is_file():
        raise PipelineOutputsMissing(
            f"{checkpoint} does not exist: run `make repro` first (the service serves the "
            "pipeline's checkpoints; it never trains)"
        )
    ckpt_audit = read_json(models_dir / "stress.audit.json")
    ckpt_sha = weights_sha256(checkpoint)
    model = load_stress_model(checkpoint)
    returns = read_returns(returns_file, list(model.assets))
    archetypes, sampling, params = read_archetypes(stress_dir, ckpt_sha, default_guidance)
    data_sha = str(ckpt_audit.get("data_sha256", ""))
    diffusion = diffusion_generator(model, returns, ckpt_sha, ckpt_audit, sampling)
    generators = {"diffusion": [diffusion]}
    for kind in ("normal", "bootstrap"):
        generators[kind] = [
            baseline_generator(
                kind,
                returns,
                model.train_end,
                diffusion.horizon,
                block=int(params.get("bootstrap_block", 5)),
                lam=model.config.ewma_lambda,
                warmup=model.config.ewma_warmup,
                data_sha256=data_sha,
            )
        ]
    gains: dict[str, dict[str, float]] = {name: {} for name in archetypes}
    for kind in COMPARISON_GENERATORS:
        path = models_dir / f"stress_{kind}.pt"
        if path.is_file():
            sha = weights_sha256(path)
            kind_gains, calibration = read_conditioning_gains(stress_dir, kind, sha, archetypes)
            generators[kind] = [
                comparison_generator(
                    load_comparison_model(path, kind),
                    returns,
                    sha,
                    read_json(models_dir / f"stress_{kind}.audit.json"),
                    calibration,
                )
            ]
            for name, gain in kind_gains.items():
                gains[name][kind] = gain
    archetypes = {name: replace(rec, gains=gains[name]) for name, rec in archetypes.items()}
    if UNCONDITIONAL not in archetypes:
        logger.warning("the pipeline made no unconditional set: requests need an archetype")
    cfg = model.config
    min_history = max(int(cfg.history), int(cfg.ewma_warmup))
    return Registry(generators, archetypes, returns, data_sha, min_history)
