"""Distilled stress student vs its guided teacher: validation quality and sampling speed.

Everything is measured on VALIDATION (the default ``--period validation``): the returns
are cut at ``data.val_end`` before anything is read; conditioning dates are every 20th
business day of ``[data.val_start, data.val_end]`` whose realised 20-day path ends by
``data.val_end``. ``--period test`` scores a saved ``--student`` the same way on
``[data.test_start, data.test_end]`` (returns cut at ``data.test_end``): a report of a
student already chosen on validation, never an input of the rule.

Quality (per sampler, the pipeline's settings; teacher = DDIM 20 steps, linear, order 1):

* set (a), the pipeline's "unconditional" set (signature prior, 50 neighbours, guidance
  1.25): pooled 1 %/5 % VaR and ES of the equal-weight portfolio's 20-day log return,
  mean energy and variogram scores against the realised paths;
* set (b), the request ``vol_ratio = 2`` (guidance 1.5): the mean volatility ratio
  (the steering) and the same VaR/ES.

Each figure gets a Monte-Carlo standard error (bootstrap of the paths within each date,
:func:`diffrisk.evaluation.stress_student.bootstrap_set_figures`); teacher seed B is an
independent second teacher run (the yardstick's sanity check). The rule is the one the
``stress_distill`` stage applies (:mod:`diffrisk.stages.stress_distill`): every figure
satisfies ``|student - teacher| <= 2 sqrt(SE_s^2 + SE_t^2)``
(:func:`~diffrisk.evaluation.stress_student.student_within_noise`); this benchmark also asks
that the student samples 10,000 paths at least 4x faster on one thread.

Speed: 10,000 paths of one date (the last validation date), request ``vol_ratio = 2``,
guidance 1.5, on ``--threads`` threads: teacher two-pass, teacher batched (one pass per
guided step), the student, the GAN and the VAE, in the same run.

Run (``--student`` loads a distilled student; without it the student is distilled first,
with ``--distill key=value`` overrides of :class:`~diffrisk.stress.distill.DistillConfig`,
e.g. ``trajectory=true final_steps=4 start_steps=20``, and saved to ``--save``)::

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/bench_stress_distill.py \\
        --teacher models/stress.pt --student models/stress_student.pt

``--speed-only`` times a saved ``--student`` beside its teacher, the GAN and the VAE,
without the quality part. ``--out`` writes every figure, the speed table, the
distillation's wall time and its per-stage history (best epoch, epochs run and every
epoch's losses) and the load average at each timing as JSON. ``--teacher-cache`` keeps
the two teacher runs' figures in a JSON keyed by the teacher's weight hash and every
setting they depend on (the sampling is seeded, so a later candidate of the same teacher
reuses them instead of resampling).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from diffrisk.core.io import write_json
from diffrisk.data.returns import constituent_returns
from diffrisk.diffusion.training import EPOCH_KEYS, EPOCH_RECORD
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.evaluation.stress_student import student_within_noise
from diffrisk.stages.stress_distill import period_dates, sampler_figures
from diffrisk.stress.comparison import load_comparison_model
from diffrisk.stress.comparison_sets import comparison_paths
from diffrisk.stress.distill import (
    DistillConfig,
    distill_stress_model,
    load_student,
    save_student,
    student_sampler,
)
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.sampling import generate_paths
from diffrisk.stress.scenario_sets import SAMPLER_KEYS

REQUEST = {"vol_ratio": 2.0}


class EpochLog(logging.Handler):
    """Collect the per-epoch records that ``train_denoiser`` logs (one list per stage)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.stages: list[list[dict[str, float]]] = [[]]

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.endswith("distill"):  # "distillation stage ...": the stage ended
            self.stages.append([])
        elif record.msg == EPOCH_RECORD:  # args: desc, then the history entry's values
            self.stages[-1].append(dict(zip(EPOCH_KEYS, record.args[1:], strict=True)))


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def parse_field(default, text: str):
    """``text`` as a value of the type of ``default`` (bools: true/false, 1/0, yes/no)."""
    if isinstance(default, bool):
        words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        if text.lower() not in words:
            raise ValueError(f"expected a bool (true/false), got {text!r}")
        return words[text.lower()]
    return type(default)(text)


def distil(args, teacher, returns, data: dict, seed: int):
    """Distil a student with ``--distill`` overrides; return it and its record."""
    overrides = dict(a.split("=", 1) for a in args.distill)
    base = DistillConfig()
    config = DistillConfig(**{k: parse_field(getattr(base, k), v) for k, v in overrides.items()})
    log = EpochLog()
    names = ("diffrisk.diffusion.training", "diffrisk.stress.distill")
    for name in names:
        logging.getLogger(name).addHandler(log)
        logging.getLogger(name).setLevel(logging.INFO)
    load_before, tic = load(), time.perf_counter()
    student = distill_stress_model(
        teacher,
        returns,
        data["val_start"],
        data["val_end"],
        config,
        seed=seed,
        teacher_sha256=weights_sha256(args.teacher),
        progress=False,
    )
    seconds = time.perf_counter() - tic
    for name in names:
        logging.getLogger(name).removeHandler(log)
    print(f"distilled in {seconds:.0f} s (load {load_before} -> {load()}): {student.history}")
    save_student(student, args.save)
    stages = [{**h, "epochs": e} for h, e in zip(student.history, log.stages[:-1], strict=True)]
    record = {
        "config": overrides,
        "seconds": seconds,
        "load_before": load_before,
        "load_after": load(),
        "stages": stages,
    }
    return student, record


def measure_speed(args, teacher, student, teacher_kw: dict, returns, date, seed: int):
    """Best of two timed calls of every sampler (``--speed-paths`` paths of ``date``).

    Rows: the teacher (two passes per guided step, then batched; ``teacher_kw`` its sampler
    settings), the student, the GAN and the VAE, in that order, each with its time relative
    to the GAN's in this run.
    """
    speed_date, m = [date], int(args.speed_paths)
    comparison = {
        k: load_comparison_model(Path(args.models) / f"stress_{k}.pt", k) for k in ("gan", "vae")
    }
    runs = {
        "teacher 2-pass": lambda: generate_paths(
            teacher, returns, speed_date, m, REQUEST, guidance=1.5, seed=seed,
            batched_guidance=False, progress=False, **teacher_kw,
        ),  # fmt: skip
        "teacher batched": lambda: generate_paths(
            teacher, returns, speed_date, m, REQUEST, guidance=1.5, seed=seed,
            batched_guidance=True, progress=False, **teacher_kw,
        ),  # fmt: skip
        f"student {len(student.steps)} steps": lambda: generate_paths(
            student.model, returns, speed_date, m, REQUEST, guidance=1.5, seed=seed,
            scaled_sampler=student_sampler(student),
        ),  # fmt: skip
        **{
            k: (lambda k=k: comparison_paths(comparison[k], returns, speed_date, m, REQUEST,
                                             seed=seed))
            for k in comparison
        },
    }  # fmt: skip
    speed, speed_load = [], load()
    for name, fn in runs.items():
        times = []
        for _ in range(2):
            tic = time.perf_counter()
            fn()
            times.append(time.perf_counter() - tic)
        speed.append({"sampler": name, "seconds": min(times), "paths_per_s": m / min(times)})
    speed_table = pd.DataFrame(speed)
    speed_table["vs_gan"] = speed_table["seconds"] / float(
        speed_table.loc[speed_table["sampler"] == "gan", "seconds"].iloc[0]
    )
    print(f"threads={args.threads}, {m} paths of {date} (best of 2); load {speed_load} -> {load()}")
    print(speed_table.to_markdown(index=False, floatfmt=".3g"))
    return speed_table, {"table": speed, "load_start": speed_load, "load_end": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="models/stress.pt")
    parser.add_argument("--student", default="", help="load this student (else distil one)")
    parser.add_argument("--save", default="models/stress_student.pt")
    parser.add_argument("--distill", nargs="*", default=[], help="DistillConfig key=value")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--returns", default="data/processed/returns.parquet")
    parser.add_argument("--models", default="models", help="folder of stress_gan/vae.pt")
    parser.add_argument("--paths-per-date", type=int, default=200)
    parser.add_argument("--speed-paths", type=int, default=10_000)
    parser.add_argument("--boot", type=int, default=200, help="resamples (VaR/ES, vol ratio)")
    parser.add_argument("--boot-scores", type=int, default=10, help="resamples (scores)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--period", choices=("validation", "test"), default="validation")
    parser.add_argument("--out", default="", help="write the results as JSON here")
    parser.add_argument("--no-speed", action="store_true", help="quality only")
    parser.add_argument("--speed-only", action="store_true", help="speed of a --student only")
    parser.add_argument("--teacher-cache", default="", help="JSON of the teacher runs' figures")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    params = yaml.safe_load(Path(args.params).read_text())
    data, gen = params["data"], params["stress"]["generate"]
    seed = int(params["seed"])
    returns = constituent_returns(pd.read_parquet(args.returns), data["index_name"])
    start, end = (
        (data["val_start"], data["val_end"])
        if args.period == "validation"
        else (data["test_start"], data["test_end"])
    )
    if args.period == "test" and not args.student:
        parser.error(
            "--period test scores a saved --student (students are distilled on validation)"
        )
    teacher = load_stress_model(args.teacher)
    distillation: dict = {}
    if args.student:
        student = load_student(args.student)
    else:  # on validation: no test row is read
        cut = returns.loc[returns.index <= pd.Timestamp(data["val_end"])]
        student, distillation = distil(args, teacher, cut, data, seed)
    if end:  # test_end "" = the end of the data
        returns = returns.loc[returns.index <= pd.Timestamp(end)]  # nothing after the period
    as_of, realised = period_dates(returns, start, end, teacher.config.horizon)
    teacher_kw = {k: gen[k] for k in SAMPLER_KEYS}
    if args.speed_only:
        if not args.student:
            parser.error("--speed-only times a saved --student")
        _, speed_record = measure_speed(
            args, teacher, student, teacher_kw, returns, as_of[-1], seed
        )
        if args.out:
            write_json(args.out, {"period": args.period, "speed": speed_record})
        return
    n = int(args.paths_per_date)
    settings = {
        "paths_per_date": n, "n_boot": args.boot, "n_boot_scores": args.boot_scores,
        "request": REQUEST, "request_guidance": 1.5,
        "prior_guidance": float(gen["prior_guidance"]),
        "prior_neighbours": int(gen["prior_neighbours"]),
    }  # fmt: skip
    samplers = {
        "teacher_A": (teacher, teacher_kw, seed),
        "teacher_B": (teacher, teacher_kw, seed + 1),
        "student_A": (student.model, {"scaled_sampler": student_sampler(student)}, seed),
    }
    key = {
        "format": 3,  # per sampler: set -> figure -> (value, standard error)
        "teacher_sha256": weights_sha256(args.teacher),
        "seed": seed,
        "as_of": as_of,
        "settings": settings,
        "sampler": teacher_kw,
    }
    cache = Path(args.teacher_cache) if args.teacher_cache else None
    cached = json.loads(cache.read_text()) if cache is not None and cache.exists() else {}
    results: dict[str, dict] = cached.get("results", {}) if cached.get("key") == key else {}
    from_cache = bool(results)
    if from_cache:
        print(f"teacher runs read from {cache}")
    quality_load = load()
    for name, (model, kwargs, s) in samplers.items():
        if name in results:
            continue
        tic = time.perf_counter()
        figs = sampler_figures(model, kwargs, s, returns, as_of, realised, settings, seed)
        results[name] = {"figures": figs, "seconds": time.perf_counter() - tic}
        print(name, f"{results[name]['seconds']:.1f}s", json.dumps(figs))
    if cache is not None and not from_cache:
        teacher_runs = {k: v for k, v in results.items() if k.startswith("teacher_")}
        write_json(cache, {"key": key, "results": teacher_runs})
    runs = {
        name: {
            set_name: {k: tuple(v) for k, v in figs.items()}
            for set_name, figs in results[name]["figures"].items()
        }
        for name in samplers
    }
    table, verdict = student_within_noise(runs["student_A"], runs["teacher_A"], runs["teacher_B"])
    steps = [int(s) for s in student.steps]
    print(f"{len(as_of)} {args.period} dates x {n} paths; student steps {steps}")
    print(table.to_markdown(index=False, floatfmt=".4g"))

    output = {
        "student_steps": steps,
        "distillation": distillation,
        "quality": table.to_dict("records"),
        "quality_within": verdict,
        "period": args.period,
        "quality_load_start": quality_load,
        "sets": results,
    }
    if args.no_speed:
        label = "RULE (quality part)" if args.period == "validation" else "TEST (reported only)"
        print(f"{label}: all figures within 2 SE: {verdict}")
        if args.out:
            write_json(args.out, output)
        return
    # ---------------------------------------------------------------- speed, one date
    speed_table, speed_record = measure_speed(
        args, teacher, student, teacher_kw, returns, as_of[-1], seed
    )
    faster = float(speed_table["seconds"].iloc[0]) / float(speed_table["seconds"].iloc[2])
    replaces = verdict and faster >= 4.0
    print(f"RULE: all figures within 2 SE: {verdict}; speed-up {faster:.1f}x; replaces: {replaces}")
    if args.out:
        write_json(args.out, {**output, "speed": speed_record, "speed_up": faster,
                              "replaces": replaces})  # fmt: skip


if __name__ == "__main__":
    main()
