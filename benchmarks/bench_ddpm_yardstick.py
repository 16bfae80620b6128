"""Does the distill stage's yardstick pass a *finer* sampler of the teacher itself? (validation)

The ``distill`` stage keeps a few-step student only if every figure (mean VaR, ES and FZ0
over the validation days, at 5 %, 2.5 % and 1 %, for each headline series) lies within
``bound_k`` combined Monte-Carlo errors of the teacher's, the errors being the spread over
``n_seeds`` sampling seeds (:func:`diffrisk.evaluation.sampler_choice.replicate_figures`).
With stratified noise that error is tiny, so the question here is what the yardstick
measures: the same network sampled with more solver steps (a *more* accurate solution of
the same ODE, not an approximation of it) is judged against the pipeline's sampler with
the stage's rule and seeds, and each finer one against the next coarser. If it fails too,
the yardstick cannot tell a better sampler from a worse one: it asks a student to reproduce
the 20-step solver's own discretisation error more closely than that error is.

Validation only (returns cut at ``data.val_end`` first); nothing here reads the test
period. Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ddpm_yardstick.py \\
        --checkpoint models/ddpm.pt --steps 20,40,80 --out yardstick.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from diffrisk.core.params import parse_list
from diffrisk.data.returns import returns_until
from diffrisk.data.splits import Splits
from diffrisk.ddpm.model import load_checkpoint
from diffrisk.evaluation.sampler_choice import figures_within_noise, replicate_figures
from diffrisk.forecasts.contract import ALPHAS
from diffrisk.stages.ddpm_settings import sampler_settings
from diffrisk.stages.distill import TEACHER_KEYS, parse_steps, seed_runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", default="models/ddpm.pt")
    p.add_argument("--returns", default="data/processed/returns.parquet")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--steps", default="20,40,80",
                   help="DDIM step counts; the first is the reference")  # fmt: skip
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    params = yaml.safe_load(Path(args.params).read_text())
    rule = params["distill"]
    seed, n = int(params["seed"]), int(params["n_scenarios"])
    splits = Splits.from_mapping(params["data"])
    frame = returns_until(pd.read_parquet(args.returns), splits, "validation")  # cut FIRST
    days = splits.dates(frame, "validation")
    series = parse_list(params["data"]["series"])
    sampler = {k: v for k, v in sampler_settings(params["generate"]).items() if k in TEACHER_KEYS}
    steps_list = parse_steps(args.steps, "--steps")
    model = load_checkpoint(args.checkpoint)
    model.config = dataclasses.replace(model.config, threads=int(args.threads))
    n_seeds, k = int(rule["n_seeds"]), float(rule["bound_k"])
    seeds = range(seed, seed + n_seeds)
    print(
        f"pipeline sampler: {sampler}; {n} scenarios x {len(days)} validation days; "
        f"series {series}; {n_seeds} seeds, bound {k:g} combined errors"
    )
    figs, seconds = {}, {}
    for steps in steps_list:
        tic = time.perf_counter()
        runs = seed_runs(model, frame, days, n_scenarios=n, series=series, seeds=seeds,
                         **{**sampler, "n_steps": steps})  # fmt: skip
        seconds[steps] = round(time.perf_counter() - tic, 1)
        figs[steps] = replicate_figures(runs, series, ALPHAS)
        print(f"{steps} steps: {n_seeds} seeds in {seconds[steps]} s")
    reference = steps_list[0]
    report = {"reference_steps": reference, "sampler": sampler, "days": len(days),
              "n_seeds": n_seeds, "bound_k": k, "seconds": seconds, "candidates": {}}  # fmt: skip
    pd.set_option("display.width", 200, "display.max_rows", 200)
    # each finer sampler against the reference, and against the next coarser one (does the
    # solution settle as the steps grow?)
    pairs = [(s, reference) for s in steps_list[1:]]
    pairs += [(b, a) for a, b in zip(steps_list[1:], steps_list[2:], strict=False)]
    for steps, base in pairs:
        table, ok = figures_within_noise(figs[steps], figs[base], k=k)
        table["diff_over_bound"] = table["diff"].abs() / table["bound"]
        print(f"\n{steps} steps against {base}: {int(table['within'].sum())}/{len(table)}"
              f" within bound (passes: {ok})")  # fmt: skip
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        report["candidates"][f"{steps}_vs_{base}"] = {
            "within": int(table["within"].sum()),
            "figures": len(table),
            "passes": ok,
            "median_diff_over_bound": float(table["diff_over_bound"].median()),
            "table": table.to_dict(orient="records"),
        }
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
