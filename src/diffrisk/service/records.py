"""What the pipeline leaves for the service, and how it is read.

The request a generator draws (:class:`Draw`), the archetypes as ``stress_generate``
resolved and calibrated them (:class:`ArchetypeRecord`, :func:`read_archetypes`), the
GAN/VAE conditioning gains and their calibration rule (:class:`GainCalibration`,
:func:`read_conditioning_gains`) and the data stage's returns (:func:`read_returns`);
:class:`PipelineOutputsMissing` when ``make repro`` has not written them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from diffrisk.stress.comparison import ComparisonModel
from diffrisk.stress.comparison_sets import calibrate_gain
from diffrisk.stress.scenario_sets import SET_INDEX, recorded_sampling
from diffrisk.stress.weight_calibration import check_weight_grid

logger = logging.getLogger(__name__)


class PipelineOutputsMissing(FileNotFoundError):
    """The pipeline's checkpoints or scenario-set records are missing (run ``make repro``)."""


@dataclass(frozen=True)
class ArchetypeRecord:
    """A named request as the pipeline resolved and calibrated it."""

    name: str
    signature: dict[str, float]
    as_of: str | None
    guidance: float
    prior_neighbours: int
    source: str
    gains: dict[str, float] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """JSON form for ``GET /models``."""
        return {
            "name": self.name,
            "signature": self.signature,
            "as_of": self.as_of,
            "guidance": self.guidance,
            "conditioning_gain": dict(self.gains),
            "source": self.source,
        }


@dataclass(frozen=True)
class Draw:
    """One resolved request to a generator.

    ``guidance`` is the classifier-free guidance weight of a guided generator (diffusion),
    ``gain`` the conditioning gain of a GAN or VAE (the network sees ``gain`` times the
    request's standardised signature, :func:`~diffrisk.stress.comparison_sets.comparison_paths`);
    ``gain=None`` calibrates it for this draw (:class:`GainCalibration`).
    """

    signature: dict[str, float]
    as_of: str | None
    n_paths: int
    seed: int
    guidance: float | None
    prior_neighbours: int = 0
    gain: float | None = 1.0


@dataclass(frozen=True)
class GainCalibration:
    """The pipeline's per-request calibration of a GAN/VAE conditioning gain.

    What ``stress_generate`` used (``stress.generate.guidance_grid``,
    ``calibration_paths``, ``calibration_refine``), so that a request the pipeline did not
    calibrate (an explicit signature, or an archetype whose set came from other weights)
    gets its gain by the same rule (:func:`~diffrisk.stress.comparison_sets.calibrate_gain`).
    """

    grid: tuple[float, ...]
    n_paths_per_date: int
    refine: int = 0

    def gain(self, model: ComparisonModel, returns: pd.DataFrame, draw: Draw) -> float:
        """The calibrated gain of ``draw`` (pilot seed ``draw.seed + 1``)."""
        gain, _ = calibrate_gain(
            model,
            returns,
            [draw.as_of],
            draw.signature,
            seed=draw.seed,
            grid=self.grid,
            n_paths_per_date=self.n_paths_per_date,
            refine=self.refine,
        )
        return gain


def read_json(path: Path) -> dict[str, Any]:
    """A pipeline record (JSON); :class:`PipelineOutputsMissing` if the file is absent."""
    if not path.is_file():
        raise PipelineOutputsMissing(
            f"{path} does not exist: run `make repro` (the service serves the pipeline's "
            "checkpoints; it never trains)"
        )
    return json.loads(path.read_text())


def read_returns(path: Path, assets: list[str]) -> pd.DataFrame:
    """The constituents' daily log returns (the model's columns) from the data stage's file."""
    if not path.is_file():
        raise PipelineOutputsMissing(f"{path} does not exist: run `make repro` (data stage)")
    frame = pd.read_parquet(path)
    frame.index = pd.DatetimeIndex(frame.index).rename("date")
    missing = [a for a in assets if a not in frame.columns]
    if missing:
        raise ValueError(f"returns file {path} lacks the model's assets {missing}")
    return frame.loc[:, assets].astype(float)


def read_archetypes(
    stress_dir: Path, checkpoint_sha256: str, default_guidance: float
) -> tuple[dict[str, ArchetypeRecord], dict[str, Any], dict[str, Any]]:
    """Archetypes, sampler settings and generate-stage params from ``stress_generate``'s records.

    Each archetype takes the guidance weight and prior settings of its diffusion set's
    sidecar (``diffusion_<name>.audit.json``). If a sidecar was made with another
    checkpoint, its calibrated weight does not apply: ``default_guidance`` is used and
    the archetype's ``source`` says so.

    Returns
    -------
    archetypes : dict name -> ArchetypeRecord
    sampling : dict
        The sets' sampler settings (:func:`~diffrisk.stress.scenario_sets.recorded_sampling`).
    params : dict
        The stage's parameters (``bootstrap_block``, ...).
    """
    index = read_json(stress_dir / SET_INDEX)
    out: dict[str, ArchetypeRecord] = {}
    sampling: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for arch in index.get("archetypes", []):
        side = read_json(stress_dir / f"diffusion_{arch['name']}.audit.json")
        gen = side["generation"]
        sampling = recorded_sampling(gen)
        params = dict(side.get("params", {}))
        same_model = side.get("checkpoint_sha256") == checkpoint_sha256
        if not same_model:
            logger.warning(
                "archetype %s was calibrated with another checkpoint: guidance %.2f used",
                arch["name"],
                default_guidance,
            )
        out[arch["name"]] = ArchetypeRecord(
            name=arch["name"],
            signature={k: float(v) for k, v in (arch.get("signature") or {}).items()},
            as_of=arch.get("as_of"),
            guidance=float(gen["guidance"]) if same_model else float(default_guidance),
            prior_neighbours=int(gen.get("prior_neighbours", 0)),
            source=str(arch.get("source", "requested"))
            + ("" if same_model else "; guidance: service default (other checkpoint)"),
        )
    if not out:
        raise PipelineOutputsMissing(f"{stress_dir / SET_INDEX} lists no archetypes")
    return out, sampling, params


def read_conditioning_gains(
    stress_dir: Path, kind: str, checkpoint_sha256: str, archetypes: Mapping[str, ArchetypeRecord]
) -> tuple[dict[str, float], GainCalibration | None]:
    """The conditioning gain ``stress_generate`` calibrated for ``kind`` on each archetype.

    Read from the sidecars ``<kind>_<archetype>.audit.json`` (``generation.conditioning_gain``).
    A gain applies only to the checkpoint it was calibrated with: an archetype whose set is
    missing or was drawn by another checkpoint gets no entry.

    Returns
    -------
    gains : dict archetype -> float
    calibration : GainCalibration or None
        The stage's calibration settings when it calibrated ``kind``'s sets
        (``stress.generate.comparison_calibration: auto``), for the requests it did not
        calibrate; None: those are drawn at gain 1, the plain conditioning.
    """
    gains: dict[str, float] = {}
    calibration: GainCalibration | None = None
    for name in archetypes:
        path = stress_dir / f"{kind}_{name}.audit.json"
        if not path.is_file():
            continue
        side = read_json(path)
        params = side.get("params", {})
        if str(params.get("comparison_calibration", "none")).strip().lower() == "auto":
            where = f"{path}: params.guidance_grid"
            grid = tuple(check_weight_grid(params["guidance_grid"], where))
            calibration = GainCalibration(
                grid, int(params["calibration_paths"]), int(params.get("calibration_refine", 0))
            )
        if side.get("checkpoint_sha256") != checkpoint_sha256:
            logger.warning(
                "%s set of archetype %s was calibrated with another checkpoint: its gain "
                "does not apply",
                kind,
                name,
            )
            continue
        gain = side.get("generation", {}).get("conditioning_gain")
        if gain is not None:
            gains[name] = float(gain)
    return gains, calibration
