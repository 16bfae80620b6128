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
3. the primary method among ``ddpm`` (static), ``ddpm_wf`` (walk-forward refits,
   warm-started, at the stated frequency) and ``ddpm_ens`` (K seed members, scenarios
   pooled), with a noise margin (:func:`primary_choice`): starting from the simplest,
   each candidate in that order replaces the current choice only if its gain — the mean
   of the paired daily differences of the FZ0 loss (averaged over the headline series
   and α ∈ {5 %, 1 %}), current minus candidate — exceeds ``margin_se`` times its
   standard error, the Newey–West (HAC) long-run standard deviation of the daily
   differences over the square root of the number of days (the Diebold–Mariano
   machinery of :func:`diffrisk.evaluation.comparison.diebold_mariano`). A gain within
   noise keeps the simpler method. After these three, the forecast combinations of a
   DDPM candidate with a classical peer (``<ddpm>_mix_<peer>``, the pairs of
   ``calibrate.combine`` whose first member is a DDPM candidate; the equal weight
   ``calibrate.fallback_weight`` that the ``calibrate`` stage gives a DDPM pair, since
   it has no DDPM validation forecasts) are candidates too, in their listed order, by
   the same noise-margin rule (``select.combinations``). The peers' rehearsal forecasts
   come from the ``baselines`` settings with data up to ``val_end``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.baselines.combination import combination_name, combine_forecasts
from diffrisk.core.compute import compute_map, shared_scheduler
from diffrisk.data.returns import returns_until
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.ensemble import fit_members, forecast_members, member_seeds
from diffrisk.ddpm.fit import refit_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm
from diffrisk.ddpm.model import DDPMModel
from diffrisk.ddpm.walk_forward import forecast_walk_forward, walk_forward_versions
from diffrisk.study.primary_rule import MARGIN_SE, daily_fz0, primary_choice, score_cells

logger = logging.getLogger(__name__)

SELECTION_RULE = (
    "Nested validation: fit on train, select epochs on val_start..select_end, score "
    "select_end+1..val_end. Each decision takes the lowest mean FZ0 over the headline series "
    "and alpha in {5%, 1%}, in order: (1) final_refit, (2) DDIM steps x solver order, "
    "(3) primary method among ddpm, ddpm_wf, ddpm_ens in that order: a candidate replaces "
    "the current (simpler) choice only if its mean daily FZ0 gain exceeds margin_se times "
    "its standard error (paired daily differences, Newey-West HAC); then, by the same rule, "
    "the listed combinations of a DDPM candidate with a classical peer (fixed weight)."
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
    margin_se : float, default :data:`MARGIN_SE`
        A more complex primary method must beat the current choice by more than this
        many standard errors of the gain (>= 0; 0 = any gain).
    combinations : tuple of (str, str), default ()
        ``(first, peer)`` pairs: ``first`` one of :data:`PRIMARY_CANDIDATES`, ``peer`` a
        method whose rehearsal forecasts :func:`nested_validation` receives; each
        ``<first>_mix_<peer>`` is a primary candidate after the three DDPM ones.
    combination_weight : float, default 0.5
        Weight of ``first`` in every combination (in [0, 1]).
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
    margin_se: float = MARGIN_SE
    combinations: tuple[tuple[str, str], ...] = ()
    combination_weight: float = 0.5

    def __post_init__(self) -> None:
        firsts = sorted({first for first, _ in self.combinations} - set(PRIMARY_CANDIDATES))
        if firsts:
            raise ValueError(
                f"calibrate.combine: a primary candidate combines one of "
                f"{list(PRIMARY_CANDIDATES)} with a peer, got first members {firsts}"
            )
        if not 0.0 <= float(self.combination_weight) <= 1.0:
            raise ValueError(
                f"calibrate.fallback_weight must be in [0, 1], got {self.combination_weight!r}"
            )
        if not (math.isfinite(float(self.margin_se)) and float(self.margin_se) >= 0.0):
            raise ValueError(f"select.margin_se must be a number >= 0, got {self.margin_se!r}")
        for name in ("members", "workers", "wf_epochs", "n_scenarios"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"select.{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("n_steps_grid", "order_grid", "headline"):
            if not getattr(self, name):
                raise ValueError(f"select.{name} must not be empty")
        if any(o not in (1, 2) for o in self.order_grid):
            raise ValueError(f"select.order_grid must hold 1 or 2, got {self.order_grid}")


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
    scheduler: str | None = None,
) -> list[DDPMModel]:
    jobs = [
        (m, data, end, int(m.metrics["best_epoch"]), int(s))
        for m, s in zip(models, seeds, strict=True)
    ]
    return compute_map(_refit_job, jobs, workers, scheduler=scheduler, desc="select-stage refits")


class _Scorer:
    """Scores candidates on the rehearsal's outer period and keeps every row."""

    def __init__(
        self,
        data: pd.DataFrame,
        dates: pd.DatetimeIndex,
        settings: SelectionSettings,
        seed: int,
        scheduler: str | None,
    ):
        self.data, self.dates, self.settings, self.seed = data, dates, settings, int(seed)
        self.scheduler = scheduler
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
            workers=self.settings.workers,
            scheduler=self.scheduler,
            **self.settings.sampling,
        )
        return frame


def _argmin(scores: Mapping[Any, float]) -> Any:
    """The key with the lowest score; the first such key on a tie."""
    best = min(scores.values())
    return next(k for k, v in scores.items() if v == best)


def rehearsal_period(
    returns: pd.DataFrame, splits: Splits
) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """The rehearsal's data (rows up to ``val_end``) and its scored days.

    The scored days are ``select_end + 1 … val_end``; a forecast of one of them may use
    the returned rows before it (nothing after ``val_end`` is returned).
    """
    data = returns_until(returns, splits, "validation")
    return data, splits.rehearsal().dates(data, "test")


def _check_peers(settings: SelectionSettings, peers: Mapping[str, pd.DataFrame]) -> None:
    for first, peer in settings.combinations:
        if peer not in peers:
            raise ValueError(
                f"calibrate.combine: no rehearsal forecasts of {peer!r} for the primary "
                f"candidate {combination_name(first, peer)!r}; have {sorted(peers)}"
            )


def combination_frames(
    frames: Mapping[str, pd.DataFrame],
    peers: Mapping[str, pd.DataFrame],
    settings: SelectionSettings,
) -> dict[str, pd.DataFrame]:
    """Each ``<first>_mix_<peer>`` of ``settings.combinations`` on the rehearsal's days.

    Raises
    ------
    ValueError
        If a pair's peer has no rehearsal forecasts in ``peers``.
    """
    _check_peers(settings, peers)
    out = {}
    for first, peer in settings.combinations:
        out[combination_name(first, peer)] = combine_forecasts(
            frames[first], peers[peer], float(settings.combination_weight), names=(first, peer)
        )
    return out


def nested_validation(
    returns: pd.DataFrame,
    splits: Splits,
    config: DDPMConfig,
    settings: SelectionSettings,
    seed: int,
    workdir: str | Path,
    peers: Mapping[str, pd.DataFrame] | None = None,
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
    peers : mapping method -> DataFrame, optional
        Forecasts of the headline series on the rehearsal's scored days
        (:func:`rehearsal_period`, data up to the day before each) of every peer in
        ``settings.combinations``.

    Returns
    -------
    decisions : dict
        ``final_refit``, ``n_steps``, ``order``, ``primary_method``, ``margin_se`` and
        ``primary_margin`` (:func:`primary_choice`'s record), ``scores`` (per decision
        and candidate), ``rule``, ``members``.
    scores : DataFrame
        Every candidate's rows: decision, candidate, series, alpha, n_obs,
        n_exceptions, fz0_mean.
    """
    peers = dict(peers or {})
    _check_peers(settings, peers)  # before any fit
    # one cluster for every fit and forecast of the rehearsal (the same bytes on any number)
    with shared_scheduler(settings.workers) as scheduler:
        rehearsal = splits.rehearsal()
        data, dates = rehearsal_period(returns, splits)
        scorer = _Scorer(data, dates, settings, seed, scheduler)
        seeds = member_seeds(seed, settings.members)
        base = replace(config, final_refit=False)
        paths = [Path(workdir) / f"rehearsal_member_{k}.pt" for k in range(settings.members)]
        members = fit_members(data, rehearsal, base, seeds, paths, settings.workers, scheduler)
        end = rehearsal.val_end
        steps0, order0 = settings.n_steps_grid[0], settings.order_grid[0]

        # Every member's refit is trained up front, in parallel: decision 1 needs member 0's,
        # the ensemble candidate all of them if the refit wins.
        refits = _refitted(members, data, end, seeds, settings.workers, scheduler)
        refit_scores = {
            refit: scorer.add(
                "final_refit", str(refit).lower(), scorer.static(model, steps0, order0)
            )
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
        common = {
            "n_scenarios": settings.n_scenarios,
            "seed": int(seed),
            "progress": False,
            "workers": settings.workers,
            "scheduler": scheduler,
        }
        heads = list(settings.headline)

        frames = {"ddpm": scorer.static(static, n_steps, order)}
        primary_scores = {"ddpm": scorer.add("primary", "ddpm", frames["ddpm"])}
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
        frames.update(ddpm_wf=wf_frame, ddpm_ens=ens_frame)
        for name, frame in combination_frames(frames, peers, settings).items():
            primary_scores[name] = scorer.add("primary", name, frame)
            frames[name] = frame
        losses = {m: daily_fz0(f, heads) for m, f in frames.items()}
        primary, margin = primary_choice(losses, list(frames), settings.margin_se)

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
            "margin_se": float(settings.margin_se),
            "primary_margin": margin,
            "combination_weight": float(settings.combination_weight),
            "scores": {
                "final_refit": {str(k).lower(): v for k, v in refit_scores.items()},
                "sampler": {f"n_steps={s},order={o}": v for (s, o), v in sampler_scores.items()},
                "primary": primary_scores,
            },
        }
        return decisions, pd.DataFrame(scorer.rows)
