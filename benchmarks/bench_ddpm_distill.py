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

Every figure uses the project's functions: VaR/ES estimators of the scenario set's design
(:mod:`diffrisk.risk.measures`), FZ0 (:func:`diffrisk.ddpm.forecast.fz0_mean`) and the
backtest battery (:func:`diffrisk.evaluation.tables.backtest_table`).

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

import numpy as np
import pandas as pd
import torch
import yaml

from diffrisk.ddpm.distill import distill_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm, fz0_mean
from diffrisk.ddpm.model import DDPMModel, load_checkpoint
from diffrisk.ddpm.student import (
    DDPMDistillConfig,
    DDPMStudent,
    load_student,
    save_student,
    teacher_provenance,
)
from diffrisk.diffusion.distill import nested_grid
from diffrisk.evaluation.tables import backtest_table
from diffrisk.forecasts.contract import ALPHAS, ScenarioSet
from diffrisk.risk.measures import var_cvar

LEVEL = 0.05
FIGURES = ("var", "es", "fz0")


def figures(scen: ScenarioSet, frame: pd.DataFrame, series: list[str], n_boot: int, seed: int):
    """{(series, alpha, figure): (value, bootstrap SE)} of one scenario set."""
    out: dict[tuple[str, float, str], tuple[float, float]] = {}
    rng = np.random.default_rng(seed)
    for name in series:
        x = np.asarray(scen.for_series(name))
        sub = frame[frame["series"] == name].set_index("date").reindex(scen.dates)
        r = sub["realized"].to_numpy(dtype=float)
        draws = {a: [] for a in ALPHAS}
        for _ in range(n_boot):
            idx = rng.integers(0, x.shape[1], size=x.shape)
            xb = np.take_along_axis(x, idx, axis=1)
            for a in ALPHAS:
                v, e = var_cvar(xb, a, design=scen.design)
                draws[a].append((np.mean(v), np.mean(e), fz0_mean(r, v, e, a)))
        for a in ALPHAS:
            v, e = var_cvar(x, a, design=scen.design)
            value = (float(np.mean(v)), float(np.mean(e)), fz0_mean(r, v, e, a))
            se = np.std(np.asarray(draws[a]), axis=0, ddof=1)
            for k, f in enumerate(FIGURES):
                out[(name, a, f)] = (value[k], float(se[k]))
    return out


def verdicts(table: pd.DataFrame) -> dict[tuple[str, str, float], dict[str, Any]]:
    """Per (method, series, alpha): reject flags at 5 % and the traffic-light zone."""
    out = {}
    for row in table.itertuples(index=False):
        out[(row.method, row.series, float(row.alpha))] = {
            "n_exceptions": int(row.n_exceptions),
            "kupiec": bool(row.kupiec_p < LEVEL),
            "christoffersen_cc": bool(row.christoffersen_cc_p < LEVEL),
            "as_z2": bool(row.as_z2_p < LEVEL),
            "zone": str(row.traffic_light),
            "p": (float(row.kupiec_p), float(row.christoffersen_cc_p), float(row.as_z2_p)),
        }
    return out


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


def compare(name: str, cand: dict, teacher_a: dict, teacher_b: dict) -> tuple[list[dict], bool]:
    """Criterion 1 rows for a candidate against teacher A (teacher B beside each bound)."""
    rows, ok = [], True
    for key, (value, se) in cand.items():
        a_val, a_se = teacher_a[key]
        bound = 2.0 * float(np.hypot(se, a_se))
        passed = abs(value - a_val) <= bound
        ok &= passed
        rows.append({"candidate": name, "series": key[0], "alpha": key[1], "figure": key[2],
                     "teacher_a": a_val, "teacher_b": teacher_b[key][0], "candidate_value": value,
                     "diff": value - a_val, "bound": bound,
                     "b_minus_a": teacher_b[key][0] - a_val, "pass": bool(passed)})  # fmt: skip
    return rows, ok


def verdict_frame(rows: list[dict]) -> pd.DataFrame:
    """One line per (series, alpha): teacher A's, teacher B's and the candidate's verdicts."""
    keys = ("n_exceptions", "kupiec", "christoffersen_cc", "as_z2", "zone")
    out = []
    for v in rows:
        line = {"series": v["series"], "alpha": v["alpha"]}
        line.update({f"A_{k}": v["teacher_a"][k] for k in keys})
        line.update({f"B_{k}": v["teacher_b"][k] for k in ("n_exceptions", "zone")})
        line.update({f"C_{k}": v["candidate"][k] for k in keys})
        out.append({**line, "same": v["same"]})
    return pd.DataFrame(out)


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

    figs = {k: figures(s, f, series, args.n_boot, seed + 17) for k, (f, s) in sets.items()}
    table = backtest_table({k: f for k, (f, _) in sets.items()},
                           {k: s for k, (_, s) in sets.items()},
                           n_sim=int(params["coverage"]["n_sim"]), seed=seed)  # fmt: skip
    verd = verdicts(table)
    best_a = min(times["teacher_a"])
    pd.set_option("display.width", 250, "display.max_rows", 500, "display.max_columns", 30)
    results = {}
    for label in [*students, *checks, *(f"teacher_net_{k}steps" for k in few)]:
        rows, ok1 = compare(label, figs[label], figs["teacher_a"], figs["teacher_b"])
        vrows, ok2 = [], True
        for s_name in series:
            for a in ALPHAS:
                va, vc = verd[("teacher_a", s_name, a)], verd[(label, s_name, a)]
                same = all(va[k] == vc[k] for k in ("kupiec", "christoffersen_cc", "as_z2", "zone"))
                ok2 &= same
                vrows.append({"series": s_name, "alpha": a, "teacher_a": va,
                              "teacher_b": verd[("teacher_b", s_name, a)], "candidate": vc,
                              "same": same})  # fmt: skip
        speedup = best_a / min(times[label])
        entry = {"figures": rows, "verdicts": vrows, "criterion1": ok1, "criterion2": ok2,
                 "times_s": times[label], "speedup": speedup}  # fmt: skip
        print(f"\n=== {label}")
        frame = pd.DataFrame(rows).drop(columns="candidate")
        print(frame.to_string(index=False, float_format="%.5g"))
        print(verdict_frame(vrows).to_string(index=False))
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
