"""Nested validation: the DDPM decisions made inside the validation period.

Epochs (and hyper-parameters, in the tune stage) are selected on the inner validation
period ``val_start … select_end``. Every later decision would be in-sample there, so it is
scored on the rest of validation, ``select_end + 1 … val_end``, by replaying the study's
protocol inside validation (:meth:`diffrisk.data.splits.Splits.rehearsal`): fit on train,
select epochs on the inner period, forecast the outer period. The test period is never
loaded.

The rule, fixed before any result was seen (``SELECTION_RULE``): each decision takes the
candidate with the lowest rehearsal score, the mean FZ0 over the headline series and
α ∈ {5 %, 1 %}; decisions are taken in order, each with the earlier ones applied:

1. ``final_refit``: the selected model as is, or refitted on train + inner validation
   for the selected number of epochs (fresh initialisation);
2. the sampler: DDIM steps × solver order over the stated grids;
3. the primary method: ``ddpm`` (static), ``ddpm_wf`` (walk-forward refits, warm-started,
   at the stated frequency) or ``ddpm_ens`` (K seed members, scenarios pooled); a tie goes
   to the simpler method, in that order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.core.parallel import parallel_map
from diffrisk.data.returns import returns_until
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import SCORE_ALPHAS, DDPMConfig
from diffrisk.ddpm.ensemble import fit_members, forecast_members, member_seeds
from diffrisk.ddpm.fit import refit_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm, fz0_mean
from diffrisk.ddpm.model import DDPMModel
from diffrisk.ddpm.walk_forward import forecast_walk_forward, walk_forward_versions
from diffrisk.forecasts.contract import cvar_column, var_column

logger = logging.getLogger(__name__)

SELECTION_RULE = (
    "Nested validation: fit on train, select epochs on val_start..select_end, score "
    "select_end+1..val_end. Each decision takes the lowest mean FZ0 over the headline series "
    "and alpha in {5%, 1%}, in order: (1) final_refit, (2) DDIM steps x solver order, "
    "(3) primary method among ddpm, ddpm_wf, ddpm_ens (ties to the simpler, in that order)."
)

#: Candidate primary methods, simplest first (the tie-break order).
PRIMARY_CANDIDATES: tuple[str, ...] = ("ddpm", "ddpm_wf", "ddpm_ens")


@dataclass(frozen=True)
class SelectionSettings:
    """What the nested validation compares.

    Attributes
    ----------
    members : int
        K, seed members of the ensemble candidate (member 0 is the static model).
    workers : int
        Processes fitting members at the same time.
    n_steps_grid, order_grid : tuple of int
        DDIM steps and solver orders tried; the first of each is the sampler of
        decision 1.
    frequency : str
        Walk-forward refit frequency ("year", "quarter", "month").
    wf_epochs : int
        Warm-started epochs per walk-forward refit.
    n_scenarios : int
        Scenarios per day (per member for the ensemble).
    sampling : mapping
        The fixed sampling options (``sampler``, ``eta``, ``spacing``, ``noise``).
    headline : tuple of str
        Series whose FZ0 is scored.
    """

    members: int
    workers: int
    n_steps_grid: tuple[int, ...]
    order_grid: tuple[int, ...]
    frequency: str
    wf_epochs: int
    n_scenarios: int
    sampling: Mapping[str, Any]
    headline: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("members", "workers", "wf_epochs", "n_scenarios"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"select.{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("n_steps_grid", "order_grid", "headline"):
            if not getattr(self, name):
                raise ValueError(f"select.{name} must not be empty")
        if any(o not in (1, 2) for o in self.order_grid):
            raise ValueError(f"select.order_grid must hold 1 or 2, got {self.order_grid}")


def score_cells(frame: pd.DataFrame, headline: Sequence[str]) -> list[dict[str, Any]]:
    """Per headline series and α ∈ ``SCORE_ALPHAS``: observations, exceptions, mean FZ0."""
    rows = []
    for series in headline:
        sub = frame[frame["series"] == series]
        if sub.empty:
            raise ValueError(f"forecast table has no rows for headline series {series!r}")
        r = sub["realized"].to_numpy(dtype=float)
        for alpha in SCORE_ALPHAS:
            v = sub[var_column(alpha)].to_numpy(dtype=float)
            e = sub[cvar_column(alpha)].to_numpy(dtype=float)
            rows.append(
                {
                    "series": series,
                    "alpha": alpha,
                    "n_obs": int(r.size),
                    "n_exceptions": int(np.sum(r < v)),
                    "fz0_mean": fz0_mean(r, v, e, alpha),
                }
            )
    return rows


def _refit_job(job: tuple[DDPMModel, pd.DataFrame, pd.Timestamp, int, int]) -> DDPMModel:
    """Refit one model with a fresh initialisation (a worker process's task)."""
    model, data, end, epochs, seed = job
    return refit_ddpm(model, data, end, epochs, seed, warm_start=False, progress=False)


def _refitted(
    models: Sequence[DDPMModel],
    data: pd.DataFrame,
    end: pd.Timestamp,
    seeds: Sequence[int],
    workers: int,
) -> list[DDPMModel]:
    jobs = [
        (m, data, end, int(m.metrics["best_epoch"]), int(s))
        for m, s in zip(models, seeds, strict=True)
    ]
    return parallel_map(_refit_job, jobs, workers)


class _Scorer:
    """Scores candidates on the rehearsal's outer period and keeps every row."""

    def __init__(
        self, data: pd.DataFrame, dates: pd.DatetimeIndex, settings: SelectionSettings, seed: int
    ):
        self.data, self.dates, self.settings, self.seed = data, dates, settings, int(seed)
        self.rows: list[dict[str, Any]] = []

    def add(self, decision: str, candidate: str, frame: pd.DataFrame) -> float:
        cells = score_cells(frame, self.settings.headline)
        for cell in cells:
            self.rows.append({"decision": decision, "candidate": candidate, **cell})
        score = float(np.mean([c["fz0_mean"] for c in cells]))
        logger.info("%s / %s: rehearsal FZ0 %.4f", decision, candidate, score)
        return score

    def static(self, model: DDPMModel, n_steps: int, order: int) -> pd.DataFrame:
        frame, _ = forecast_ddpm(
            model,
            self.data,
            self.dates,
            n_scenarios=self.settings.n_scenarios,
            seed=self.seed,
            series=list(self.settings.headline),
            n_steps=n_steps,
            order=order,
            progress=False,
            **self.settings.sampling,
        )
        return frame


def _argmin(scores: Mapping[Any, float]) -> Any:
    """The key with the lowest score; the first such key on a tie."""
    best = min(scores.values())
    return next(k for k, v in scores.items() if v == best)


def nested_validation(
    returns: pd.DataFrame,
    splits: Splits,
    config: DDPMConfig,
    settings: SelectionSettings,
    seed: int,
    workdir: str | Path,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Take the refit, sampler and primary-method decisions by nested validation.

    Parameters
    ----------
    returns : DataFrame (dates × series)
        Daily log returns; rows after ``splits.val_end`` are dropped first.
    splits : Splits
        With ``select_end`` set.
    config : DDPMConfig
        The (tuned) configuration; its ``final_refit`` is ignored (it is decided here).
    settings : SelectionSettings
    seed : int
        Study seed (member k trains with ``seed + k``; sampling uses ``seed``).
    workdir : path-like
        Where the rehearsal members' checkpoints are written.

    Returns
    -------
    decisions : dict
        ``final_refit``, ``n_steps``, ``order``, ``primary_method``, ``scores`` (per
        decision and candidate), ``rule``, ``members``.
    scores : DataFrame
        Every candidate's rows: decision, candidate, series, alpha, n_obs,
        n_exceptions, fz0_mean.
    """
    rehearsal = splits.rehearsal()
    data = returns_until(returns, splits, "validation")
    dates = rehearsal.dates(data, "test")
    scorer = _Scorer(data, dates, settings, seed)
    seeds = member_seeds(seed, settings.members)
    base = replace(config, final_refit=False)
    paths = [Path(workdir) / f"rehearsal_member_{k}.pt" for k in range(settings.members)]
    members = fit_members(data, rehearsal, base, seeds, paths, settings.workers)
    end = rehearsal.val_end
    steps0, order0 = settings.n_steps_grid[0], settings.order_grid[0]

    # Every member's refit is trained up front, in parallel: decision 1 needs member 0's,
    # the ensemble candidate all of them if the refit wins.
    refits = _refitted(members, data, end, seeds, settings.workers)
    refit_scores = {
        refit: scorer.add("final_refit", str(refit).lower(), scorer.static(model, steps0, order0))
        for refit, model in ((False, members[0]), (True, refits[0]))
    }
    final_refit = bool(_argmin(refit_scores))
    ensemble = refits if final_refit else members
    static = ensemble[0]

    sampler_scores = {
        (steps, order): scorer.add(
            "sampler", f"n_steps={steps},order={order}", scorer.static(static, steps, order)
        )
        for steps in settings.n_steps_grid
        for order in settings.order_grid
    }
    n_steps, order = _argmin(sampler_scores)
    chosen = {"n_steps": int(n_steps), "order": int(order), **settings.sampling}
    common = {"n_scenarios": settings.n_scenarios, "seed": int(seed), "progress": False}
    heads = list(settings.headline)

    primary_scores = {"ddpm": scorer.add("primary", "ddpm", scorer.static(static, n_steps, order))}
    versions = walk_forward_versions(
        static,
        data,
        dates,
        frequency=settings.frequency,
        epochs=settings.wf_epochs,
        seed=int(seed),
        progress=False,
    )
    wf_frame, _ = forecast_walk_forward(versions, data, series=heads, **common, **chosen)
    primary_scores["ddpm_wf"] = scorer.add("primary", "ddpm_wf", wf_frame)
    ens_frame, _, _ = forecast_members(ensemble, data, dates, series=heads, **common, **chosen)
    primary_scores["ddpm_ens"] = scorer.add("primary", "ddpm_ens", ens_frame)
    primary = _argmin({m: primary_scores[m] for m in PRIMARY_CANDIDATES})

    decisions = {
        "rule": SELECTION_RULE,
        "rehearsal": {
            "train_end": str(rehearsal.train_end.date()),
            "select": f"{rehearsal.val_start.date()} ... {rehearsal.val_end.date()}",
            "score": f"{dates[0].date()} ... {dates[-1].date()}",
        },
        "members": int(settings.members),
        "final_refit": final_refit,
        "n_steps": int(n_steps),
        "order": int(order),
        "primary_method": primary,
        "scores": {
            "final_refit": {str(k).lower(): v for k, v in refit_scores.items()},
            "sampler": {f"n_steps={s},order={o}": v for (s, o), v in sampler_scores.items()},
            "primary": primary_scores,
        },
    }
    return decisions, pd.DataFrame(scorer.rows)
