"""Stage ``stress_generate``.

A scenario set per archetype and generator, each with audit metadata. Writes
``data/stress/*.npz`` and the set index.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import pandas as pd
import torch

from diffrisk.core import audit, io, paths
from diffrisk.core.checks import check_int
from diffrisk.core.paths import (
    comparison_checkpoint,
    scenario_set_file,
    stress_checkpoint,
    stress_dir,
)
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stages.common import StressInputs, stage_returns, stress_inputs
from diffrisk.stress.archetypes import parse_archetypes, resolve_archetype
from diffrisk.stress.comparison import COMPARISON_GENERATORS, load_comparison_model
from diffrisk.stress.comparison_sets import comparison_scenario_set
from diffrisk.stress.config import UNCONDITIONAL, StressRangeWarning
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.scenario_sets import (
    baseline_scenario_set,
    generate_scenario_set,
    sampling_settings,
    write_scenario_set,
)
from diffrisk.stress.weight_calibration import check_weight_grid

logger = logging.getLogger(__name__)


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
            a, returns, h, lam=model.config.ewma_lambda, warmup=model.config.ewma_warmup
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
    comparison_params = {**params, "comparison_calibration": comparison_calibration}
    calibration = {  # the one rule of every generator's per-request weight
        "guidance_grid": grid,
        "calibration_paths": int(calibration_paths),
        "calibration_refine": refine,
    }
    rows, seconds = [], {}
    for i, arch in enumerate(resolved):
        if arch.name == UNCONDITIONAL:
            dates = [str(d.date()) for d in test_dates[:: int(unconditional_every)]]
            per = int(unconditional_paths_per_date)
        else:
            dates, per = [arch.as_of or as_of], int(n_paths)
        set_seed = int(inputs.seed) + 1000 * (i + 1)
        tic = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", StressRangeWarning)
            paths_, meta = generate_scenario_set(
                model,
                returns,
                arch,
                dates,
                per,
                guidance=prior_guidance if arch.name == UNCONDITIONAL else guidance,
                **calibration,
                prior_neighbours=int(prior_neighbours),
                seed=set_seed,
                **sampling,
                checkpoint_sha256=ckpt_hash,
                data_sha256=data_hash,
                params=params,
            )
        for w in caught:
            logger.warning("%s", w.message)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        seconds[f"diffusion_{arch.name}"] = round(time.perf_counter() - tic, 2)
        write_scenario_set(scenario_set_file("diffusion", arch.name), paths_, meta)
        rows.append(
            {
                "generator": "diffusion",
                "archetype": arch.name,
                "n_paths": len(paths_),
                "n_dates": len(dates),
                "out_of_range": meta["out_of_range"],
                "guidance": meta["generation"]["guidance"],
            }
        )
        for kind, (c_model, c_hash) in comparison.items():
            tic = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", StressRangeWarning)  # reported for diffusion
                c_paths, c_meta = comparison_scenario_set(
                    c_model,
                    returns,
                    arch,
                    dates,
                    per,
                    seed=set_seed,
                    prior_neighbours=int(prior_neighbours),
                    checkpoint_sha256=c_hash,
                    data_sha256=data_hash,
                    params=comparison_params,
                    calibration=comparison_calibration,
                    **calibration,
                )
            seconds[f"{kind}_{arch.name}"] = round(time.perf_counter() - tic, 2)
            write_scenario_set(scenario_set_file(kind, arch.name), c_paths, c_meta)
            rows.append(
                {
                    "generator": kind,
                    "archetype": arch.name,
                    "n_paths": len(c_paths),
                    "n_dates": len(dates),
                    "out_of_range": c_meta["out_of_range"],
                    "guidance": c_meta["generation"]["conditioning_gain"],
                }
            )
        for kind in ("normal", "bootstrap"):
            tic = time.perf_counter()
            b_paths, b_meta = baseline_scenario_set(
                kind,
                returns,
                inputs.splits.train_end,
                dates,
                per,
                h,
                seed=set_seed,
                block=bootstrap_block,
                lam=model.config.ewma_lambda,
                warmup=model.config.ewma_warmup,
            )
            seconds[f"{kind}_{arch.name}"] = round(time.perf_counter() - tic, 2)
            b_meta["generation"]["archetype"] = arch.name
            record = audit.provenance(params, set_seed, data_hash, extra=b_meta)
            write_scenario_set(scenario_set_file(kind, arch.name), b_paths, record)
            rows.append(
                {
                    "generator": kind,
                    "archetype": arch.name,
                    "n_paths": len(b_paths),
                    "n_dates": len(dates),
                    "out_of_range": [],
                    "guidance": None,
                }
            )
    index = {
        "archetypes": [asdict(a) for a in resolved],
        "sets": rows,
        "checkpoint_sha256": ckpt_hash,
        "horizon": h,
    }
    io.write_json(stress_dir() / "index.json", index)
    io.write_json(paths.models_dir() / "stress_generate_timing.json", seconds)
    logger.info("stress_generate: %d sets in %.1f s", len(rows), sum(seconds.values()))
    return {"index": pd.DataFrame(rows), "archetypes": resolved, "seconds": seconds}


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_generate``: :func:`generate_stress_sets` with its ``dvc.yaml`` parameters."""
    return generate_stress_sets(**stress["generate"], inputs=stress_inputs(seed, data))
