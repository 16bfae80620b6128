"""Stage ``stress_generate``.

A scenario set per archetype and generator, each with audit metadata. Writes
``data/stress/*.npz`` and the set index.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from diffrisk.core import audit, io, paths
from diffrisk.core.checks import check_int
from diffrisk.core.compute import Compute
from diffrisk.core.paths import (
    comparison_checkpoint,
    scenario_set_file,
    stress_checkpoint,
    stress_dir,
)
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stages.common import StressInputs, run_stress_stage, stage_returns
from diffrisk.stress.archetypes import parse_archetypes, resolve_archetype
from diffrisk.stress.comparison import (
    COMPARISON_GENERATORS,
    ComparisonModel,
    load_comparison_model,
)
from diffrisk.stress.comparison_sets import comparison_scenario_set
from diffrisk.stress.config import UNCONDITIONAL, StressRangeWarning
from diffrisk.stress.model import StressModel, load_stress_model
from diffrisk.stress.scenario_sets import (
    SET_INDEX,
    baseline_scenario_set,
    generate_scenario_set,
    sampling_settings,
    write_scenario_set,
)
from diffrisk.stress.weight_calibration import check_weight_grid

logger = logging.getLogger(__name__)


#: The simple baselines of every archetype (fitted on training rows, no network).
BASELINES: tuple[str, ...] = ("normal", "bootstrap")


@dataclass(frozen=True)
class _SetInputs:
    """What every archetype's sets share (sent once with each task).

    ``params`` is the stage's parameter record (with ``prior_neighbours`` and
    ``bootstrap_block``); ``hashes`` the recorded data's and the checkpoint's SHA-256.
    """

    model: StressModel
    comparison: dict[str, tuple[ComparisonModel, str]]
    returns: pd.DataFrame
    train_end: str | pd.Timestamp
    sampling: dict[str, Any]
    calibration: dict[str, Any]
    params: dict[str, Any]
    comparison_calibration: str
    hashes: tuple[str, str]


SetRecord = tuple[str, NDArray[np.float32], dict[str, Any], float]
Caught = tuple[str, type[Warning], str, int]


def _archetype_sets(job: tuple[Any, ...]) -> tuple[list[SetRecord], list[Caught]]:
    """Every generator's set of one archetype (module level: runs as a Dask task).

    Returns ``(generator, paths, metadata, seconds)`` for the diffusion model, each
    comparison generator and the baselines (their metadata without provenance, which
    the caller adds), and the range warnings raised for the diffusion set, to be raised
    again by the caller.
    """
    shared, arch, dates, per, weight, set_seed = job
    torch.set_num_threads(int(shared.model.config.threads))
    data_sha256, checkpoint_sha256 = shared.hashes
    request = (shared.returns, arch, dates, per)
    common = {  # what every generator's set of the request shares
        "seed": set_seed,
        "prior_neighbours": int(shared.params["prior_neighbours"]),
        "data_sha256": data_sha256,
        **shared.calibration,
    }
    out: list[SetRecord] = []
    tic = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StressRangeWarning)
        paths_, meta = generate_scenario_set(
            shared.model,
            *request,
            guidance=weight,
            **common,
            **shared.sampling,
            checkpoint_sha256=checkpoint_sha256,
            params=shared.params,
        )
    out.append(("diffusion", paths_, meta, round(time.perf_counter() - tic, 2)))
    comparison_params = {**shared.params, "comparison_calibration": shared.comparison_calibration}
    for kind, (c_model, c_hash) in shared.comparison.items():
        tic = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StressRangeWarning)  # reported for diffusion
            c_paths, c_meta = comparison_scenario_set(
                c_model,
                *request,
                **common,
                checkpoint_sha256=c_hash,
                params=comparison_params,
                calibration=shared.comparison_calibration,
            )
        out.append((kind, c_paths, c_meta, round(time.perf_counter() - tic, 2)))
    config = shared.model.config
    for kind in BASELINES:
        tic = time.perf_counter()
        b_paths, b_meta = baseline_scenario_set(
            kind,
            shared.returns,
            shared.train_end,
            dates,
            per,
            config.horizon,
            seed=set_seed,
            block=int(shared.params["bootstrap_block"]),
            lam=config.ewma_lambda,
            warmup=config.ewma_warmup,
        )
        out.append((kind, b_paths, b_meta, round(time.perf_counter() - tic, 2)))
    warned = [(str(w.message), w.category, w.filename, w.lineno) for w in caught]
    return out, warned


def generate_stress_sets(
    *,
    archetypes: str,
    as_of: str,
    n_paths: int,
    unconditional_every: int,
    unconditional_paths_per_date: int,
    guidance: float | str,
    guidance_grid: str,
    calibration_paths: int,
    comparison_calibration: str,
    prior_neighbours: int,
    prior_guidance: float,
    sampler: str,
    n_steps: int,
    eta: float,
    spacing: str,
    order: int,
    soft_bound: float,
    bootstrap_block: int,
    inputs: StressInputs,
    calibration_refine: int = 0,
    compute: Compute | None = None,
) -> dict[str, Any]:
    """Run the ``stress_generate`` stage: a scenario set per archetype and generator.

    Parameters
    ----------
    archetypes : str
        :func:`parse_archetypes` specification (``stress.generate.archetypes``).
    as_of : str
        Conditioning date of the archetypes without their own (first day of the paths;
        "" = the day after the last data row).
    n_paths : int
        Paths per stressed archetype.
    unconditional_every, unconditional_paths_per_date : int
        The ``unconditional`` set is conditioned on every ``unconditional_every``-th test
        day (from the first), with this many paths per date.
    guidance : float or "auto"
        Classifier-free guidance weight w, or "auto": per archetype, the weight of
        ``guidance_grid`` whose pilot set of ``calibration_paths`` paths best hits the
        request (:func:`calibrate_guidance`).
    guidance_grid : str
        Comma-separated candidate weights of ``guidance="auto"``.
    calibration_paths : int
        Pilot paths per weight.
    calibration_refine : int
        Extra pilot sets per request between the best grid weight's neighbours, for the
        guidance weight and the GAN/VAE gain alike
        (:func:`~diffrisk.stress.weight_calibration.calibrate_weight`; 0 = the grid only).
    comparison_calibration : {"auto", "none"}
        "auto": per request, the GAN's and VAE's conditioning gain is the weight of
        ``guidance_grid`` whose pilot set (``calibration_paths`` paths per date, seed + 1)
        best hits the request, by the diffusion model's rule
        (:func:`~diffrisk.stress.comparison_sets.comparison_scenario_set`);
        "none": the plain request (gain 1).
    prior_neighbours, prior_guidance : int, float
        The ``unconditional`` set draws each path's signature from the
        ``prior_neighbours`` training windows nearest in history features and guides
        toward it with ``prior_guidance`` (:func:`generate_paths`); 0 neighbours = the
        model's unconditional branch.
    sampler, n_steps, eta, spacing, order, soft_bound
        See :func:`generate_paths`.
    bootstrap_block : int
        Block length of the filtered block bootstrap baseline.
    compute : Compute, optional
        ``stress.generate.workers``: one Dask task per archetype (all its generators' sets),
        largest first; default in this process. The sets are byte-identical whatever it
        is (each archetype's sets are seeded on their own).
    inputs : StressInputs
        The unconditional set's dates are test days; the baselines fit on rows up to
        ``splits.train_end``; archetype i's sets use the seed ``seed + 1000 * (i + 1)``.

    Returns
    -------
    dict
        ``index`` (DataFrame of the sets written), ``archetypes`` (resolved),
        ``seconds`` (per set).

    Outputs
    -------
    ``data/stress/<generator>_<archetype>.npz`` and ``.audit.json`` for generator in
    (diffusion, gan, vae, normal, bootstrap), ``data/stress/index.json``. The GAN and VAE
    sets (``models/stress_gan.pt``, ``models/stress_vae.pt``) use the diffusion set's
    dates and seed, condition on the requested signature (scaled by the conditioning gain
    of ``comparison_calibration``; no guidance) and, for the unconditional set, draw
    signatures from the same ``prior_neighbours`` prior.
    """
    grid = check_weight_grid(guidance_grid, "stress.generate.guidance_grid")
    refine = check_int(calibration_refine, "stress.generate.calibration_refine", 0)
    model = load_stress_model(stress_checkpoint())
    torch.set_num_threads(int(model.config.threads))
    returns = stage_returns(index_name=inputs.index_name)
    h = model.config.horizon
    resolved = [
        resolve_archetype(
            a,
            returns,
            h,
            lam=model.config.ewma_lambda,
            warmup=model.config.ewma_warmup,
            train_end=model.train_end,
        )
        for a in parse_archetypes(archetypes)
    ]
    test_dates = inputs.splits.dates(returns, "test")
    if len(test_dates) == 0:
        raise ValueError("the test period has no returns: cannot condition the unconditional set")
    data_hash, ckpt_hash = (audit.recorded_data_hash(), weights_sha256(stress_checkpoint()))
    comparison = {
        kind: (
            load_comparison_model(comparison_checkpoint(kind), kind),
            weights_sha256(comparison_checkpoint(kind)),
        )
        for kind in COMPARISON_GENERATORS
    }
    sampling = sampling_settings(sampler, n_steps, eta, spacing, order, soft_bound)
    params = {
        "archetypes": archetypes,
        "as_of": as_of,
        "n_paths": n_paths,
        "unconditional_every": unconditional_every,
        "unconditional_paths_per_date": unconditional_paths_per_date,
        "guidance": guidance,
        "guidance_grid": guidance_grid,
        "calibration_paths": calibration_paths,
        "calibration_refine": calibration_refine,
        "prior_neighbours": prior_neighbours,
        "prior_guidance": prior_guidance,
        **sampling,
        "bootstrap_block": bootstrap_block,
        "stress.model": model.config.to_dict(),
    }
    calibration = {  # the one rule of every generator's per-request weight
        "guidance_grid": grid,
        "calibration_paths": int(calibration_paths),
        "calibration_refine": refine,
    }
    shared = _SetInputs(
        model,
        comparison,
        returns,
        inputs.splits.train_end,
        sampling,
        calibration,
        params,
        comparison_calibration,
        (data_hash, ckpt_hash),
    )
    jobs = []
    for i, arch in enumerate(resolved):
        if arch.name == UNCONDITIONAL:
            dates = [str(d.date()) for d in test_dates[:: int(unconditional_every)]]
            per = int(unconditional_paths_per_date)
        else:
            dates, per = [arch.as_of or as_of], int(n_paths)
        weight = prior_guidance if arch.name == UNCONDITIONAL else guidance
        jobs.append((shared, arch, dates, per, weight, int(inputs.seed) + 1000 * (i + 1)))
    # longest first (the most dates x paths), so a worker never waits behind the largest
    order = sorted(range(len(jobs)), key=lambda k: -len(jobs[k][2]) * jobs[k][3])
    done = (compute or Compute()).map(
        _archetype_sets, [jobs[k] for k in order], desc="stress archetypes"
    )
    by_archetype = dict(zip(order, done, strict=True))
    rows, seconds = [], {}
    for k, (_, arch, dates, _, _, set_seed) in enumerate(jobs):
        sets, caught = by_archetype[k]
        for message, category, filename, lineno in caught:
            logger.warning("%s", message)
            warnings.warn_explicit(message, category, filename, lineno)
        for kind, paths_, meta, secs in sets:
            seconds[f"{kind}_{arch.name}"] = secs
            if kind in BASELINES:
                meta["generation"]["archetype"] = arch.name
                meta = audit.provenance(params, set_seed, data_hash, extra=meta)
            write_scenario_set(scenario_set_file(kind, arch.name), paths_, meta)
            generation = meta["generation"]
            rows.append(
                {
                    "generator": kind,
                    "archetype": arch.name,
                    "n_paths": len(paths_),
                    "n_dates": len(dates),
                    "out_of_range": [] if kind in BASELINES else meta["out_of_range"],
                    "guidance": None
                    if kind in BASELINES
                    else generation["guidance" if kind == "diffusion" else "conditioning_gain"],
                }
            )
    index = {
        "archetypes": [a.record() for a in resolved],
        "sets": rows,
        "checkpoint_sha256": ckpt_hash,
        "horizon": h,
    }
    io.write_json(stress_dir() / SET_INDEX, index)
    io.write_json(paths.models_dir() / "stress_generate_timing.json", seconds)
    logger.info("stress_generate: %d sets in %.1f s", len(rows), sum(seconds.values()))
    return {"index": pd.DataFrame(rows), "archetypes": resolved, "seconds": seconds}


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_generate``: :func:`generate_stress_sets` with its ``dvc.yaml`` parameters."""
    return run_stress_stage(generate_stress_sets, "generate", seed, data, stress)
