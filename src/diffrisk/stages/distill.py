"""Stage ``distill``.

A few-step student of the one-day model (``models/ddpm.pt``) and the rule that says
whether it may replace the pipeline's sampler, applied on VALIDATION; the same figures on
the test period are reported, never used to choose.

1. **Distil** (:func:`~diffrisk.ddpm.distill.distill_ddpm`, settings ``distill.student``)
   on the training windows, validation picking the epoch. With ``trajectory: true`` the
   first teacher is the pipeline's own sampler: ``generate``'s steps, spacing and order
   (``auto`` resolved by the select stage) are filled in here.
2. **Judge on validation** (returns cut at ``data.val_end`` first): the headline series
   sampled with the teacher (the pipeline's sampler) and with the student, each with the
   ``n_seeds`` seeds A, A + 1, ... (A = ``seed``), ``n_scenarios`` per day. The student
   passes iff every VaR, ES and FZ0 (the mean over the days, averaged over the seeds) at
   every alpha lies within ``bound_k`` combined Monte-Carlo standard errors of the
   teacher's, the errors being the spread over the seeds
   (:func:`~diffrisk.evaluation.sampler_choice.replicate_figures`: valid for the
   pipeline's stratified design, where resampling the scenarios i.i.d. overstates the
   error about a hundredfold), and every backtest verdict of seed A at ``level``
   (Kupiec, Christoffersen cc, Acerbi-Szekely Z2, Basel zone) equals the teacher's
   (:mod:`diffrisk.evaluation.sampler_choice`). Speed is not
   judged here (wall-clock time would make the decision machine-dependent): it is a
   property of the step count, measured by ``benchmarks/bench_ddpm_distill.py`` (the
   3-step student: 6.0x on the default validation set); this stage records its own
   timings in ``models/distill_timing.json``.
3. **What the yardstick asks** (``distill.solver_check``, e.g. ``"40,80"``; validation
   only, reported, not used to decide): the teacher's own network at those DDIM step
   counts, judged by the same rule against the teacher (:func:`solver_check`).
4. **Report on test** with the same figures and verdicts.

Writes ``models/ddpm_student.pt`` (+ ``.audit.json``: the teacher's version and weight
hash are in the checkpoint), ``reports/metrics/distill.json`` (the decision and its
counts), ``reports/tables/distill.{csv,md}`` (every figure, both periods),
``reports/tables/distill_verdicts.{csv,md}`` and ``reports/tables/distill_solver.{csv,md}``
(step 3). The ``generate`` stage samples with the students when this decision says so
(``generate.student: auto``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch

from diffrisk.core import audit, io, paths
from diffrisk.core.checks import check_int
from diffrisk.core.params import parse_list
from diffrisk.core.tables import markdown_table, write_csv_table
from diffrisk.data.returns import check_series, load_returns, returns_until
from diffrisk.data.splits import Splits
from diffrisk.ddpm.distill import distill_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm
from diffrisk.ddpm.model import DDPMModel, load_checkpoint
from diffrisk.ddpm.student import DDPMStudent, save_student
from diffrisk.diffusion.checkpoints import without_timings
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.evaluation.sampler_choice import (
    backtest_verdicts,
    figures_within_noise,
    replicate_figures,
    verdicts_equal,
)
from diffrisk.evaluation.tables import backtest_table
from diffrisk.forecasts.contract import ALPHAS
from diffrisk.stages.ddpm_settings import sampler_settings
from diffrisk.stages.student_choice import static_student_checkpoint
from diffrisk.stages.student_settings import student_config

logger = logging.getLogger(__name__)

FIGURES_CAPTION = (
    "**Table D1. Few-step student against its teacher.** The one-day model's sampler "
    "(`teacher`) against its distilled student (`candidate`), headline series: the mean "
    "over the period's days of the VaR and ES (returns, negative in the loss tail) and of "
    "the FZ0 loss, `n_scenarios` scenarios a day, each averaged over the `n_seeds` "
    "sampling seeds A, A + 1, …; `bound` is `bound_k` times the combined Monte-Carlo "
    "standard error (the spread of the figure over the seeds). "
    "Validation decides; the test rows are reported, not used to choose.\n\n"
)

VERDICTS_CAPTION = (
    "**Table D2. Backtest verdicts of the student and its teacher.** Exceptions and "
    "rejections at the stated level (Kupiec POF, Christoffersen conditional coverage, "
    "Acerbi–Szekely Z2) and the Basel traffic-light zone of the seed-A sets; `same` "
    "compares the verdicts, not the exception counts.\n\n"
)

SOLVER_CAPTION = (
    "**Table D3. What the yardstick asks: the teacher's own finer solver.** The teacher's "
    "network sampled with `steps` DDIM steps (same order, spacing, noise and seeds; a more "
    "accurate solution of the same ODE, not an approximation of it) against the pipeline's "
    "sampler, judged on validation by Table D1's rule (`distill.solver_check`; reported, "
    "not used to decide). {counts}\n\n"
)

#: The sampler settings of ``generate`` the teacher samples with.
TEACHER_KEYS = ("sampler", "n_steps", "eta", "spacing", "noise", "order")

#: Columns of the solver check's table (Table D3).
SOLVER_COLUMNS = ["steps", "series", "alpha", "figure", "teacher", "candidate", "diff", "bound",
                  "within"]  # fmt: skip


def seed_runs(
    model: DDPMModel,
    frame: pd.DataFrame,
    days: pd.DatetimeIndex,
    *,
    n_scenarios: int,
    series: Sequence[str],
    seeds: Sequence[int],
    **sampler: Any,
) -> list[tuple[pd.DataFrame, Any]]:
    """One :func:`~diffrisk.ddpm.forecast.forecast_ddpm` run per sampling seed.

    ``sampler`` holds the sampler's keywords (:data:`TEACHER_KEYS`, or ``student`` and
    ``noise``); the runs are the replicates of
    :func:`~diffrisk.evaluation.sampler_choice.replicate_figures`.
    """
    return [forecast_ddpm(model, frame, days, n_scenarios=int(n_scenarios), seed=int(s),
                          series=series, **sampler) for s in seeds]  # fmt: skip


def solver_check(
    model: DDPMModel,
    frame: pd.DataFrame,
    days: pd.DatetimeIndex,
    teacher_runs: Sequence[tuple[pd.DataFrame, Any]],
    *,
    steps: Sequence[int],
    teacher_kw: Mapping[str, Any],
    n_scenarios: int,
    series: Sequence[str],
    seeds: Sequence[int],
    bound_k: float,
) -> pd.DataFrame:
    """The teacher's network at other DDIM step counts, judged by the rule against the teacher.

    What the rule's bound means: a finer solver of the same network is no approximation
    of the teacher, so if it falls outside the bound, the bound is tighter than the
    teacher's own discretisation error.

    Parameters
    ----------
    model : DDPMModel
        The teacher.
    frame : DataFrame
        Returns up to the last day scored (the stage passes validation, cut first).
    days : DatetimeIndex
        The days scored.
    teacher_runs : sequence of (forecast frame, ScenarioSet)
        The teacher's runs on ``days``, one per seed of ``seeds``.
    steps : sequence of int
        DDIM step counts to judge (``distill.solver_check``).
    teacher_kw : mapping
        The teacher's sampler settings (:data:`TEACHER_KEYS`); ``n_steps`` is replaced.
    n_scenarios : int
    series : sequence of str
    seeds : sequence of int
        The teacher's sampling seeds, reused for every step count.
    bound_k : float

    Returns
    -------
    DataFrame
        :data:`SOLVER_COLUMNS`: one row per step count and figure
        (:func:`~diffrisk.evaluation.sampler_choice.figures_within_noise`); empty for no
        ``steps``.
    """
    teacher = replicate_figures(teacher_runs, series, ALPHAS)
    tables = []
    for n in steps:
        runs = seed_runs(model, frame, days, n_scenarios=n_scenarios, series=series,
                         seeds=seeds, **{**teacher_kw, "n_steps": int(n)})  # fmt: skip
        table, _ = figures_within_noise(replicate_figures(runs, series, ALPHAS), teacher, k=bound_k)
        tables.append(table.assign(steps=int(n)))
        logger.info("solver check: %d steps keep %d of %d figures within bound", n,
                    int(table["within"].sum()), len(table))  # fmt: skip
    if not tables:
        return pd.DataFrame(columns=SOLVER_COLUMNS)
    return pd.concat(tables, ignore_index=True)[SOLVER_COLUMNS]


def parse_steps(value: Any, name: str) -> list[int]:
    """DDIM step counts from a comma-separated parameter (``"40,80"``; empty: none).

    Examples
    --------
    >>> parse_steps("40, 80", "distill.solver_check")
    [40, 80]
    >>> parse_steps("", "distill.solver_check")
    []
    >>> parse_steps("40,x", "distill.solver_check")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: distill.solver_check must list DDIM step counts (integers >= 1, ...), got '40,x'
    """
    items = parse_list(str(value) if isinstance(value, int) else value)
    if not all(item.isdigit() and int(item) >= 1 for item in items):
        raise ValueError(
            f'{name} must list DDIM step counts (integers >= 1, e.g. "40,80"), got {value!r}'
        )
    return [int(item) for item in items]


def solver_counts(table: pd.DataFrame) -> str:
    """Table D3's caption sentence: figures within bound per step count.

    Examples
    --------
    >>> t = pd.DataFrame({"steps": [40, 40, 80], "within": [True, False, False]})
    >>> solver_counts(t)
    'Within bound: 40 steps 1 of 2 figures, 80 steps 0 of 1.'
    >>> solver_counts(t.iloc[:0])
    'Not run (`distill.solver_check: ""`).'
    """
    if table.empty:
        return 'Not run (`distill.solver_check: ""`).'
    parts = [f"{int(n)} steps {int(g['within'].sum())} of {len(g)}"
             for n, g in table.groupby("steps", sort=False)]  # fmt: skip
    return "Within bound: " + parts[0] + " figures" + "".join(f", {p}" for p in parts[1:]) + "."


def judge(
    sets: Mapping[str, Sequence[tuple[pd.DataFrame, Any]]],
    series: Sequence[str],
    *,
    bound_k: float,
    level: float,
    n_sim: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The rule's two checks of ``sets["student"]`` against ``sets["teacher"]``.

    Parameters
    ----------
    sets : mapping
        ``teacher`` and ``student``: one (forecast frame, scenario set) per sampling seed
        (at least two each); the first seed's sets are backtested.
    series : sequence of str
    bound_k, level, n_sim, seed
        The bound's multiple of the combined error, the backtests' size, the
        Acerbi-Szekely simulations and the seed.

    Returns
    -------
    figures, verdicts : DataFrame
        :func:`~diffrisk.evaluation.sampler_choice.figures_within_noise` and
        :func:`~diffrisk.evaluation.sampler_choice.verdicts_equal` tables.
    summary : dict
        ``figures_within`` (count), ``figures`` (total), ``all_within``,
        ``verdicts_equal`` and ``passes``.
    """
    figs = {name: replicate_figures(runs, series, ALPHAS) for name, runs in sets.items()}
    fig_table, ok1 = figures_within_noise(figs["student"], figs["teacher"], k=bound_k)
    first = {name: runs[0] for name, runs in sets.items()}
    table = backtest_table(
        {k: f for k, (f, _) in first.items()}, {k: s for k, (_, s) in first.items()},
        n_sim=int(n_sim), seed=int(seed),
    )  # fmt: skip
    verd_table, ok2 = verdicts_equal(backtest_verdicts(table, level), "teacher", "student", series)
    summary = {
        "figures_within": int(fig_table["within"].sum()),
        "figures": len(fig_table),
        "all_within": ok1,
        "verdicts_equal": ok2,
        "passes": ok1 and ok2,
    }
    return fig_table, verd_table, summary


def distill_student(
    *,
    distill: Mapping[str, Any],
    generate: Mapping[str, Any],
    n_scenarios: int,
    headline: str | Sequence[str],
    n_sim: int,
    splits: Splits,
    seed: int,
) -> dict[str, Any]:
    """Run the ``distill`` stage (see the module docstring).

    Parameters
    ----------
    distill : mapping
        The ``distill`` section: ``student`` (fields of
        :class:`~diffrisk.ddpm.student.DDPMDistillConfig`), ``n_seeds``, ``bound_k``,
        ``level``, ``solver_check`` (optional).
    generate : mapping
        The ``generate`` section (the teacher's sampler; ``auto`` from the select stage).
    n_scenarios : int
        Scenarios per day of every sampled set.
    headline : str or sequence of str
        The series judged (``data.series``).
    n_sim : int
        Acerbi-Szekely simulations (``coverage.n_sim``).
    splits : Splits
    seed : int

    Returns
    -------
    dict
        ``metrics`` (as written), ``figures``, ``verdicts`` and ``solver_check`` (tables)
        and ``student``.
    """
    n_seeds = check_int(distill["n_seeds"], "distill.n_seeds", 2)
    solver_steps = parse_steps(distill.get("solver_check"), "distill.solver_check")
    sampling = sampler_settings(generate)
    config = student_config(distill["student"], sampling)
    model = load_checkpoint(paths.ddpm_checkpoint())
    returns = load_returns()
    heads = check_series(parse_list(headline), returns, "data.series")
    periods = {"validation": returns_until(returns, splits, "validation"), "test": returns}
    torch.set_num_threads(int(config.threads))
    tic = time.perf_counter()
    student = distill_ddpm(model, periods["validation"], splits.train_end, splits.val_start,
                           splits.val_end, config, seed=int(seed))  # fmt: skip
    timing: dict[str, float] = {"distill": round(time.perf_counter() - tic, 1)}
    path = save_student(student, static_student_checkpoint())
    teacher_kw = {k: sampling[k] for k in TEACHER_KEYS}
    seeds = range(int(seed), int(seed) + n_seeds)
    figures, verdicts, summary = [], [], {}
    for period, frame in periods.items():
        days = splits.dates(frame, period)
        runs = {"teacher": teacher_kw, "student": {"noise": sampling["noise"], "student": student}}
        sets: dict[str, list[tuple[pd.DataFrame, Any]]] = {}
        for name, kwargs in runs.items():
            tic = time.perf_counter()
            sets[name] = seed_runs(model, frame, days, n_scenarios=n_scenarios, series=heads,
                                   seeds=seeds, **kwargs)  # fmt: skip
            timing[f"{period}_{name}"] = round(time.perf_counter() - tic, 1)
            logger.info("%s %s: %d seeds x %d days x %d series", period, name, n_seeds,
                        len(days), len(heads))  # fmt: skip
        fig, verd, summary[period] = judge(
            sets, heads, bound_k=float(distill["bound_k"]), level=float(distill["level"]),
            n_sim=int(n_sim), seed=int(seed),
        )  # fmt: skip
        figures.append(fig.assign(period=period))
        verdicts.append(verd.assign(period=period))
        if period == "validation":
            tic = time.perf_counter()
            solver = solver_check(
                model, frame, days, sets["teacher"], steps=solver_steps,
                teacher_kw=teacher_kw, n_scenarios=int(n_scenarios), series=heads,
                seeds=seeds, bound_k=float(distill["bound_k"]),
            )  # fmt: skip
            timing["validation_solver_check"] = round(time.perf_counter() - tic, 1)
    metrics = _metrics(student, summary, sampling, path, n_seeds)
    fig_table = _first(pd.concat(figures, ignore_index=True), "period")
    verd_table = _first(pd.concat(verdicts, ignore_index=True), "period")
    for stem, table, caption, digits in (
        ("distill", fig_table, FIGURES_CAPTION, 6),
        ("distill_verdicts", verd_table, VERDICTS_CAPTION, 4),
        ("distill_solver", solver, SOLVER_CAPTION.format(counts=solver_counts(solver)), 6),
    ):
        write_csv_table(paths.tables_dir() / f"{stem}.csv", table, float_format=f"%.{digits}g")
        io.write_text(paths.tables_dir() / f"{stem}.md",
                      caption + markdown_table(table, floatfmt=f".{digits - 1}g"))  # fmt: skip
    io.write_json(paths.metrics_dir() / "distill.json", metrics, digits=6)
    record = audit.provenance({"distill": dict(distill), "teacher_sampler": teacher_kw}, seed,
                              audit.recorded_data_hash(),
                              extra={"checkpoint_sha256": metrics["student_sha256"],
                                     "teacher": student.teacher})  # fmt: skip
    audit.write_provenance(path.with_suffix(".audit.json"), record)
    io.write_json(paths.models_dir() / "distill_timing.json", timing)
    logger.info("distill: the pipeline's sampler on validation is the %s", metrics["sampler"])
    return {"metrics": metrics, "figures": fig_table, "verdicts": verd_table,
            "solver_check": solver, "student": student}  # fmt: skip


def _first(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame[[column, *[c for c in frame.columns if c != column]]]


def _metrics(
    student: DDPMStudent,
    summary: Mapping[str, Any],
    sampling: Mapping[str, Any],
    path: Any,
    n_seeds: int,
) -> dict[str, Any]:
    """``reports/metrics/distill.json``: the decision on validation and both periods' counts."""
    return {
        "sampler": "student" if summary["validation"]["passes"] else "teacher",
        "n_seeds": int(n_seeds),
        "student_steps": len(student.steps),
        "teacher_steps": int(sampling["n_steps"]),
        "teacher_order": int(sampling["order"]),
        "student_version": f"ddpm_student@{student.teacher['version']}",
        "student_sha256": weights_sha256(path),
        "teacher_weights_sha256": student.teacher["weights_sha256"],
        "validation": dict(summary["validation"]),
        "test": dict(summary["test"]),
        "history": without_timings(student.history),
    }


def run(
    *,
    seed: int,
    n_scenarios: int,
    distill: Mapping[str, Any],
    generate: Mapping[str, Any],
    data: Mapping[str, Any],
    coverage: Mapping[str, Any],
) -> dict[str, Any]:
    """Stage ``distill``: :func:`distill_student` with its ``dvc.yaml`` parameters."""
    return distill_student(
        distill=distill,
        generate=generate,
        n_scenarios=n_scenarios,
        headline=data["series"],
        n_sim=coverage["n_sim"],
        splits=Splits.from_mapping(data),
        seed=seed,
    )
