"""Distilled one-day student vs its teacher on VALIDATION: the replacement rule, applied.

The rule (``/work/notes/rule-32-oneday.md``, written before any run) in short: on the
validation days (returns cut at ``data.val_end`` before anything else), for every scored
series (``data.series``) and alpha (0.05, 0.025, 0.01), the mean VaR, mean ES and mean
FZ0 loss of the student (seed A) must lie within ``2 sqrt(SE_s^2 + SE_A^2)`` of teacher
A's (the pipeline's sampler: DDIM ``n_steps``/``order`` of the select stage, logsnr,
stratified noise, 500 scenarios, seed A = params seed), every backtest verdict at 5 %
(Kupiec POF, Christoffersen conditional coverage, Acerbi-Szekely Z2; Basel zone) must
equal teacher A's, the default validation set (every series, 1 thread) must be >= 5x
faster (best of 2, same run), and distillation must take <= 10 min on one thread.
SEs: bootstrap (200 resamples) of the scenarios within every day. Teacher B (seed A + 1)
is printed next to each bound; the teacher's network with the pipeline's sampler at the
student's step count too (not part of the rule).

Superseded yardstick: resampling the scenarios i.i.d. measures an i.i.d. sampler's error,
about a hundred times the stratified design's real one (compare teacher B's column with
the bound). The ``distill`` stage judges with the spread over sampling seeds
(:func:`diffrisk.evaluation.sampler_choice.replicate_figures`); this script keeps the
bootstrap so that the earlier runs can be reproduced as they were.

The figures, their Monte-Carlo errors and the two checks are
:mod:`diffrisk.evaluation.sampler_choice`'s; the backtest battery is
:func:`diffrisk.evaluation.tables.backtest_table`.

``--grid-check 64 32 16`` also measures the first-order teacher on the nested start grids
against teacher A (criterion 1 only). ``--period test --student PATH`` scores a saved
student against the teacher on the test days with the same figures and verdicts: reported,
never used to choose (the returns are then not cut at ``data.val_end``). Run::

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/bench_ddpm_distill.py \\
        --checkpoint models/ddpm.pt --config '{"start_steps": 64}' --out bench.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import yaml

from diffrisk.ddpm.distill import distill_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm
from diffrisk.ddpm.model import DDPMModel, load_checkpoint
from diffrisk.ddpm.student import (
    DDPMDistillConfig,
    DDPMStudent,
    load_student,
    save_student,
    teacher_provenance,
)
from diffrisk.diffusion.distill import nested_grid
from diffrisk.evaluation.sampler_choice import (
    backtest_verdicts,
    figures_within_noise,
    scenario_figures,
    verdicts_equal,
)
from diffrisk.evaluation.tables import backtest_table
from diffrisk.forecasts.contract import ALPHAS, ScenarioSet

LEVEL = 0.05


def run(model: DDPMModel, returns: pd.DataFrame, days: pd.DatetimeIndex, seed: int, **kw: Any):
    """forecast_ddpm on every series (1 process), timed."""
    tic = time.perf_counter()
    frame, scen = forecast_ddpm(model, returns, days, n_scenarios=kw.pop("n"), seed=seed,
                                workers=1, progress=False, **kw)  # fmt: skip
    return frame, scen, time.perf_counter() - tic


def subset(frame: pd.DataFrame, scen: ScenarioSet, series: list[str]):
    """The scored series of a forecast frame and scenario set."""
    rows = [scen.series.index(s) for s in series]
    sub = ScenarioSet(scenarios=scen.scenarios[rows], dates=scen.dates, series=series,
                      design=scen.design)  # fmt: skip
    return frame[frame["series"].isin(series)].reset_index(drop=True), sub


def main() -> None:  # noqa: PLR0915 - a script
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", default="models/ddpm.pt")
    p.add_argument("--returns", default="data/processed/returns.parquet")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--selection", default="reports/metrics/selection.json")
    p.add_argument("--config", action="append", default=[], help="JSON DDPMDistillConfig")
    p.add_argument("--student", action="append", default=[], help="saved student(s) instead")
    p.add_argument("--save", default="", help="directory for the distilled students")
    p.add_argument("--grid-check", type=int, nargs="*", default=[])
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="")
    p.add_argument(
        "--period",
        choices=("validation", "test"),
        default="validation",
        help="test: score saved --student(s) on the test days (reported, never chosen)",
    )
    args = p.parse_args()
    if args.period == "test" and (args.config or args.grid_check):
        p.error("--period test scores saved students only (--student); distil on validation")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    params = yaml.safe_load(Path(args.params).read_text())
    data, gen = params["data"], params["generate"]
    seed, n = int(params["seed"]), int(params["n_scenarios"])
    val_end = pd.Timestamp(data["val_end"])
    returns = pd.read_parquet(args.returns)
    if args.period == "validation":
        returns = returns.loc[returns.index <= val_end]  # validation only: cut FIRST
        days = returns.index[returns.index >= pd.Timestamp(data["val_start"])]
    else:
        if data.get("test_end"):
            returns = returns.loc[returns.index <= pd.Timestamp(data["test_end"])]
        days = returns.index[returns.index >= pd.Timestamp(data["test_start"])]
    series = [s.strip() for s in str(data["series"]).split(",") if s.strip()]
    sel = json.loads(Path(args.selection).read_text())
    steps = sel["n_steps"] if gen["n_steps"] == "auto" else int(gen["n_steps"])
    order = sel["order"] if gen["order"] == "auto" else int(gen["order"])
    model = load_checkpoint(args.checkpoint)
    model.config = dataclasses.replace(model.config, threads=int(args.threads))
    teacher_kw = {"n": n, "sampler": gen["sampler"], "n_steps": steps, "eta": float(gen["eta"]),
                  "spacing": gen["spacing"], "noise": gen["noise"], "order": order}  # fmt: skip
    print(
        f"teacher {teacher_provenance(model)['version']}: DDIM {steps} steps order {order}, "
        f"{gen['spacing']}, {gen['noise']}, {n} scenarios x {len(days)} {args.period} days "
        f"({days[0].date()}..{days[-1].date()}) x {len(model.series)} series; scored {series}"
    )
    report: dict[str, Any] = {"teacher": teacher_provenance(model), "days": len(days),
                              "period": args.period}  # fmt: skip

    sets, times = {}, {"teacher_a": []}
    for rep in range(2):
        f, s, sec = run(model, returns, days, seed, **dict(teacher_kw))
        times["teacher_a"].append(sec)
        print(f"teacher A run {rep + 1}: {sec:.1f} s")
        sets.setdefault("teacher_a", subset(f, s, series))
    f, s, _ = run(model, returns, days, seed + 1, **dict(teacher_kw))
    sets["teacher_b"] = subset(f, s, series)

    students: dict[str, tuple[DDPMStudent, float | None]] = {}
    for path in args.student:
        students[Path(path).stem] = (load_student(path), None)
    for i, text in enumerate(args.config):
        cfg = DDPMDistillConfig.from_dict(json.loads(text))
        tic = time.perf_counter()
        st = distill_ddpm(model, returns, data["train_end"], data["val_start"], data["val_end"],
                          cfg, seed=seed, progress=False)  # fmt: skip
        sec = time.perf_counter() - tic
        label = f"student{i}_" + "_".join(f"{k}={v}" for k, v in json.loads(text).items())
        print(f"{label}: distilled in {sec:.1f} s, steps {st.steps.tolist()}, {st.history}")
        if args.save:
            save_student(st, Path(args.save) / f"ddpm_student{i}.pt")
        students[label] = (st, sec)
    checks = {}
    for start in args.grid_check:
        grid = nested_grid(model.schedule, start, "logsnr")
        checks[f"teacher_order1_logsnr{start}"] = DDPMStudent(
            net=model.net, steps=grid[:-1], teacher=teacher_provenance(model),
            config=DDPMDistillConfig(start_steps=start, final_steps=start), history=[],
        )  # fmt: skip

    def sample_with(st: DDPMStudent) -> tuple:
        return run(model, returns, days, seed, n=n, noise=gen["noise"], student=st)

    for label, st in checks.items():  # the scored series only (not timed against A)
        f, s, sec = run(model, returns, days, seed, n=n, noise=gen["noise"], student=st,
                        series=series)  # fmt: skip
        sets[label] = subset(f, s, series)
        times[label] = [sec]
    for label, (st, _) in students.items():
        times[label] = []
        for rep in range(2):
            f, s, sec = sample_with(st)
            times[label].append(sec)
            print(f"{label} run {rep + 1}: {sec:.1f} s")
            sets.setdefault(label, subset(f, s, series))
    few = sorted({len(st.steps) for st, _ in students.values()} or {4}, reverse=True)
    for k in few:  # the teacher's network with the pipeline's sampler at k steps
        f, s, sec = run(model, returns, days, seed, **{**teacher_kw, "n_steps": k})
        sets[f"teacher_net_{k}steps"] = subset(f, s, series)
        times[f"teacher_net_{k}steps"] = [sec]

    figs = {k: scenario_figures(s, f, series, ALPHAS, args.n_boot, seed + 17)
            for k, (f, s) in sets.items()}  # fmt: skip
    table = backtest_table({k: f for k, (f, _) in sets.items()},
                           {k: s for k, (_, s) in sets.items()},
                           n_sim=int(params["coverage"]["n_sim"]), seed=seed)  # fmt: skip
    verd = backtest_verdicts(table, LEVEL)
    best_a = min(times["teacher_a"])
    pd.set_option("display.width", 250, "display.max_rows", 500, "display.max_columns", 30)
    results = {}
    for label in [*students, *checks, *(f"teacher_net_{k}steps" for k in few)]:
        frame, ok1 = figures_within_noise(figs[label], figs["teacher_a"], figs["teacher_b"])
        vframe, ok2 = verdicts_equal(verd, "teacher_a", label, series)
        rows, vrows = frame.to_dict("records"), vframe.to_dict("records")
        speedup = best_a / min(times[label])
        entry = {"figures": rows, "verdicts": vrows, "criterion1": ok1, "criterion2": ok2,
                 "times_s": times[label], "speedup": speedup}  # fmt: skip
        print(f"\n=== {label}")
        print(frame.to_string(index=False, float_format="%.5g"))
        print(vframe.to_string(index=False))
        if label in students and args.period == "test":
            print(f"scored on test (reported, not a choice): figures within bound {ok1}, "
                  f"verdicts equal {ok2}, speed-up {speedup:.2f}x")  # fmt: skip
        elif label in students:
            st, dsec = students[label]
            entry.update({"steps": st.steps.tolist(), "config": st.config.to_dict(),
                          "history": st.history, "distill_s": dsec,
                          "criterion3": speedup >= 5.0,
                          "criterion4": dsec is not None and dsec <= 600.0})  # fmt: skip
            entry["passes"] = ok1 and ok2 and entry["criterion3"] and entry["criterion4"]
            print(f"criterion 1 {ok1}, 2 {ok2}, 3 {entry['criterion3']} (speed-up "
                  f"{speedup:.2f}x: teacher best {best_a:.1f} s, student best "
                  f"{min(times[label]):.1f} s), 4 {entry['criterion4']} (distil {dsec} s)"
                  f" -> passes {entry['passes']}")  # fmt: skip
        else:
            print(f"criterion 1 {ok1}, 2 {ok2}; time {min(times[label]):.1f} s")
        results[label] = entry
    print("\nspeed (every series, 1 thread):")
    for k, v in times.items():
        print(f"  {k}: " + ", ".join(f"{t:.1f} s" for t in v))
    if args.period == "test":
        report.update({"times_s": times, "results": results})
        if args.out:
            Path(args.out).write_text(json.dumps(report, indent=1, default=str))
        return
    passing = [k for k in students if results[k].get("passes")]
    chosen = min(passing, key=lambda k: (len(students[k][0].steps), min(times[k])), default=None)
    verdict = f"student {chosen} replaces the teacher" if chosen else "the teacher stays"
    print(f"\nVERDICT: {verdict}")
    teacher_figs = {"|".join(map(str, k)): v for k, v in figs["teacher_a"].items()}
    report.update(
        {"times_s": times, "results": results, "chosen": chosen, "teacher_figures": teacher_figs}
    )
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
