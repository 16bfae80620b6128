"""Calibration refinement and steering on the VALIDATION period (test never read).

The per-request calibration (:func:`diffrisk.stress.weight_calibration.calibrate_weight`)
picks a generator's conditioning weight from ``stress.generate.guidance_grid``; with
``refine = k`` it draws k more pilot sets between the best grid weight's neighbours. This
script measures what that does to steering for the three trained generators of the
pipeline (``models/stress.pt``, ``stress_gan.pt``, ``stress_vae.pt``): the ablation's four
steering requests (``benchmarks/ablation_stress.py``, 7 components) conditioned on the
validation day ``horizon`` rows before ``data.val_end``, 1,000 paths per request,
``calibration_paths`` pilot paths, the params' sampler; each request's achieved mean
signature against the requested one (components within 10 %, median relative error).
Only rows up to ``data.val_end`` are read.

The decision rule (written before the first run): adopt ``--refine`` as the default if,
summed over the three generators, more components are within 10 % than without it and
no generator has fewer.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/steering_refinement.py --refine 3 \\
        --out steering_refinement.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import torch
import yaml

from diffrisk import stress
from diffrisk.data.returns import constituent_returns
from diffrisk.stress.comparison import load_comparison_model
from diffrisk.stress.comparison_sets import comparison_scenario_set
from diffrisk.stress.scenario_sets import SAMPLER_KEYS
from diffrisk.stress.weight_calibration import check_weight_grid

HERE = Path(__file__).resolve().parent


def ablation_requests() -> dict[str, dict[str, float]]:
    """The steering requests of ``benchmarks/ablation_stress.py`` (one definition)."""
    spec = importlib.util.spec_from_file_location("ablation_stress", HERE / "ablation_stress.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ablation_stress"] = module
    spec.loader.exec_module(module)
    return module.REQUESTS


def steering_rows(
    name: str, draw_set, requests: dict[str, dict[str, float]], refine: int
) -> list[dict]:
    """One row per requested component: requested, achieved mean, relative error, weight."""
    rows = []
    for i, (label, request) in enumerate(requests.items()):
        tic = time.perf_counter()
        paths_, meta = draw_set(stress.Archetype(label, request), i, refine)
        achieved = stress.achieved_signatures(paths_, meta).mean()
        gen = meta["generation"]
        weight = gen["guidance"] if gen.get("guidance") is not None else gen["conditioning_gain"]
        for component, value in request.items():
            error = abs(float(achieved[component]) / value - 1.0)
            rows.append({
                "generator": name, "refine": refine, "request": label, "component": component,
                "requested": value, "achieved": float(achieved[component]),
                "relative_error": error, "within_10pct": bool(error <= 0.1),
                "weight": float(weight), "seconds": round(time.perf_counter() - tic, 1),
            })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refine", type=int, default=3)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--returns", default="data/processed/returns.parquet")
    parser.add_argument("--models", default="models")
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--out", default="", help="write the rows and the verdict as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    params = yaml.safe_load(Path(args.params).read_text())
    data, gen = params["data"], params["stress"]["generate"]
    seed = int(params["seed"])
    returns = constituent_returns(pd.read_parquet(args.returns), data["index_name"])
    visible = returns.loc[returns.index <= pd.Timestamp(data["val_end"])]
    model = stress.load_stress_model(Path(args.models) / "stress.pt")
    as_of = str(visible.index[-model.config.horizon].date())
    grid = check_weight_grid(gen["guidance_grid"], "stress.generate.guidance_grid")
    pilots = int(gen["calibration_paths"])
    sampling = {k: gen[k] for k in SAMPLER_KEYS}
    requests = ablation_requests()

    def diffusion_set(arch, i, refine):
        return stress.generate_scenario_set(
            model, visible, arch, [as_of], args.paths, guidance="auto", seed=seed + i,
            guidance_grid=grid, calibration_paths=pilots, calibration_refine=refine,
            **sampling,
        )  # fmt: skip

    def comparison_set(kind):
        c_model = load_comparison_model(Path(args.models) / f"stress_{kind}.pt", kind)

        def draw(arch, i, refine):
            return comparison_scenario_set(
                c_model, visible, arch, [as_of], args.paths, seed=seed + i,
                calibration="auto", guidance_grid=grid, calibration_paths=pilots,
                calibration_refine=refine,
            )  # fmt: skip

        return draw

    generators = {"diffusion": diffusion_set, "gan": comparison_set("gan"),
                  "vae": comparison_set("vae")}  # fmt: skip
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stress.StressRangeWarning)
        for name, draw_set in generators.items():
            for refine in (0, int(args.refine)):
                rows += steering_rows(name, draw_set, requests, refine)
                print(f"{name} refine={refine} done", flush=True)
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(f"validation as_of {as_of}; {args.paths} paths; pilots {pilots}; grid {grid}")
    print(table.drop(columns="seconds").to_markdown(index=False, floatfmt=".4g"))
    summary = table.groupby(["generator", "refine"]).agg(
        within=("within_10pct", "sum"), median_error=("relative_error", "median")
    )
    print(summary.to_markdown(floatfmt=".4g"))
    counts = summary["within"].unstack("refine")
    base, refined = counts[0], counts[int(args.refine)]
    adopt = bool(refined.sum() > base.sum() and (refined >= base).all())
    print(f"RULE: within-10 % total {int(base.sum())} -> {int(refined.sum())}; "
          f"no generator lower: {bool((refined >= base).all())}; adopt refine="
          f"{args.refine}: {adopt}")  # fmt: skip
    if args.out:
        Path(args.out).write_text(json.dumps(
            {"as_of": as_of, "rows": rows, "adopt": adopt, "refine": int(args.refine)},
            indent=1,
        ))  # fmt: skip


if __name__ == "__main__":
    main()
