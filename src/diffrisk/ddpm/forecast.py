"""Daily scenario forecasts of the one-day model and their diagnostics."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from scipy import stats

from diffrisk.core.checks import check_int
from diffrisk.core.compute import on_dask
from diffrisk.ddpm.config import SCORE_ALPHAS
from diffrisk.ddpm.forecast_tasks import sample_on_dask
from diffrisk.ddpm.inputs import (
    ConditionTensors,
    condition_tensors,
    prepare_returns,
    series_columns,
)
from diffrisk.ddpm.model import DDPMModel
from diffrisk.ddpm.network import Denoiser
from diffrisk.diffusion.sampler import sample
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.diffusion.weights_hash import state_dict_sha256
from diffrisk.forecasts.contract import (
    ScenarioSet,
    cvar_column,
    forecast_date_positions,
    risk_frame_from_scenarios,
    var_column,
)
from diffrisk.risk.scoring import fz0_loss, pit_values


class FewStepSampler(Protocol):
    """What :func:`forecast_ddpm` uses of a student (:class:`diffrisk.ddpm.distill.DDPMStudent`)."""

    net: Denoiser
    steps: NDArray[np.int64]
    teacher: dict[str, str]


def sample_scaled(
    net: Denoiser,
    schedule: NoiseSchedule,
    data: ConditionTensors,
    n_scenarios: int,
    *,
    seed: int,
    sampler: str = "ddim",
    n_steps: int | None = None,
    eta: float = 0.0,
    spacing: str = "logsnr",
    noise: str = "stratified",
    order: int = 2,
    variance: str = "beta",
    progress: bool | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    steps: NDArray[np.int64] | None = None,
) -> torch.Tensor:
    """Encode every condition once and draw ``n_scenarios`` scaled returns for each, (n, N).

    See :func:`diffrisk.diffusion.sampler.sample` for the sampling options (``steps``:
    explicit DDIM steps, e.g. a distilled student's, instead of ``n_steps``). With
    ``workers > 1`` (or a Dask scheduler, see :func:`diffrisk.core.compute.compute_map`)
    the sampler's chunks run as ``workers`` Dask tasks of whole chunks
    (:func:`diffrisk.ddpm.forecast_tasks.sample_on_dask`): the result is byte-identical.
    """
    cond = data.encode(net)
    gen = torch.Generator().manual_seed(int(seed))
    options = {
        "method": sampler,
        "n_steps": n_steps if sampler == "ddim" else None,
        "eta": eta,
        "spacing": spacing,
        "noise": noise,
        "order": order,
        "variance": variance,
    }
    if steps is not None:
        options["steps"] = steps
    if not on_dask(workers, scheduler):
        return sample(net, schedule, cond, n_scenarios, generator=gen, progress=progress, **options)
    return sample_on_dask(
        net,
        schedule,
        cond,
        n_scenarios,
        generator=gen,
        workers=int(workers),
        scheduler=scheduler,
        **options,
    )


def student_network(
    student: FewStepSampler, model: DDPMModel
) -> tuple[Denoiser, NDArray[np.int64]]:
    """The student's network and steps, once its teacher is checked to be ``model``.

    Raises
    ------
    ValueError
        If the student was distilled from other weights (SHA-256 of ``model.net``).
    """
    sha = state_dict_sha256(model.net.state_dict())
    if student.teacher.get("weights_sha256") != sha:
        raise ValueError(
            f"student was distilled from teacher {student.teacher.get('version')!r}, not from "
            f"this model's weights (sha256 {sha[:12]})"
        )
    return student.net, student.steps


def scenario_design(sampler: str, eta: float, noise: str) -> str:
    """Sampling design of the scenarios a sampler setting produces (the VaR/CVaR estimator).

    ``"stratified"`` when stratified initial noise goes through the deterministic DDIM map
    (``sampler="ddim"``, ``eta=0``), which is monotone in one dimension, so the sorted
    scenarios keep one draw per probability stratum; ``"iid"`` otherwise. The ancestral
    sampler (and DDIM with ``eta > 0``) adds fresh i.i.d. noise at every step, which
    washes the stratification out: for Gaussian data and an exact denoiser the ancestral
    output does not depend on the initial noise at all (its weight is
    ``sqrt(alpha_bar_T)``, about 0), and the stratified estimator would put its "1 %"
    VaR near tail probability 1.09 % at N = 500.

    Examples
    --------
    >>> scenario_design("ddim", 0.0, "stratified"), scenario_design("ddpm", 0.0, "stratified")
    ('stratified', 'iid')
    """
    deterministic = sampler == "ddim" and float(eta) == 0.0
    return "stratified" if noise == "stratified" and deterministic else "iid"


# ---------------------------------------------------------------------------- forecasting
def _forecast_rows(
    returns: pd.DataFrame, forecast_dates: Iterable[Any], window: int
) -> tuple[pd.DatetimeIndex, NDArray[np.int64]]:
    dates, rows = forecast_date_positions(returns.index, forecast_dates)
    if rows.min() < window:
        raise ValueError(
            f"forecast date {dates[0].date()} has fewer than window={window} earlier returns"
        )
    return dates, rows.astype(np.int64)


def forecast_ddpm(
    model: DDPMModel,
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    n_scenarios: int = 500,
    sampler: str | None = None,
    n_steps: int | None = None,
    eta: float | None = None,
    seed: int = 0,
    series: Sequence[str] | None = None,
    spacing: str | None = None,
    noise: str | None = None,
    order: int | None = None,
    progress: bool | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    student: FewStepSampler | None = None,
) -> tuple[pd.DataFrame, ScenarioSet]:
    """One-day VaR/CVaR forecasts and scenarios for every date and series.

    Parameters
    ----------
    model : DDPMModel
    returns : DataFrame (dates × series)
        All history; the forecast for date d uses rows strictly before d (its scaled
        window and volatility forecast), and ``returns.loc[d]`` only as the realised value.
    forecast_dates : sequence of dates
        Sorted, unique, each in ``returns.index`` with at least ``window`` earlier rows.
    n_scenarios : int, default 500
        Scenarios per day and series (5,000 works; memory is chunked).
    sampler, n_steps, eta, spacing, noise, order
        Sampling options; ``None`` takes the model config's defaults (``sampler="ddpm"``
        runs all T ancestral steps and ignores ``n_steps``).
    seed : int
        Seed of the sampling generator.
    series : sequence of str, optional
        Series to forecast (default: every series of the model).
    progress : bool, optional
        tqdm progress (``None``: only on a terminal).
    workers : int, default 1
        1 samples in this process; N > 1 runs the sampler's chunks as N Dask tasks of
        whole chunks on an embedded cluster of N processes
        (:func:`diffrisk.ddpm.forecast_tasks.sample_on_dask`). The scenarios are
        byte-identical for every ``workers``.
    scheduler : str, optional
        Address of a running Dask scheduler (default: the ``DIFFRISK_DASK_SCHEDULER``
        environment variable; see :func:`diffrisk.core.compute.compute_map`).
    student : FewStepSampler, optional
        A distilled few-step sampler of ``model`` (:func:`diffrisk.ddpm.distill.distill_ddpm`;
        its teacher's weights must be ``model``'s): its network samples on its own steps
        with first-order deterministic DDIM, and ``sampler``, ``n_steps``, ``eta``,
        ``spacing`` and ``order`` must be left unset. None (default): the teacher samples.

    Returns
    -------
    frame : DataFrame
        The forecast table (:func:`diffrisk.forecasts.contract.risk_frame_from_scenarios`): VaR and
        CVaR are returns (negative numbers), an exception is ``r_t < VaR_t``.
    scenarios : ScenarioSet
        (S, D, N) float32 return scenarios ``m_t + sigma_t z``, with the ``design`` of the
        effective sampling options (:func:`scenario_design`), which also picks the
        frame's VaR/CVaR estimator.
    """
    cfg = model.config
    workers = check_int(workers, "workers", 1)
    torch.set_num_threads(int(cfg.threads))
    names = list(series) if series is not None else model.series
    cols = series_columns(model.scaler, names, "series")
    dates, rows = _forecast_rows(returns, forecast_dates, cfg.window)
    history = returns.iloc[: int(rows.max()) + 1]
    prep = prepare_returns(history, model.scaler, model.market)
    data = condition_tensors(prep, rows, cols, cfg)
    net, steps = model.net, None
    if student is not None:
        given = {"sampler": sampler, "n_steps": n_steps, "eta": eta, "spacing": spacing,
                 "order": order}  # fmt: skip
        fixed = sorted(k for k, v in given.items() if v is not None)
        if fixed:
            raise ValueError(f"student sampling fixes {fixed}; leave them unset")
        net, steps = student_network(student, model)
        sampler, eta, order = "ddim", 0.0, 1
    sampler, noise = sampler or cfg.sampler, noise or cfg.noise
    eta = cfg.eta if eta is None else eta
    design = scenario_design(sampler, eta, noise)
    z = sample_scaled(
        net,
        model.schedule,
        data,
        n_scenarios,
        seed=seed,
        sampler=sampler,
        n_steps=n_steps or cfg.n_steps,
        eta=eta,
        spacing=spacing or cfg.spacing,
        noise=noise,
        order=cfg.order if order is None else order,
        variance=cfg.variance,
        progress=progress,
        workers=workers,
        scheduler=scheduler,
        steps=steps,
    )
    # float32 throughout: (S, D, N) can be large (22 x 1006 x 5000 = 442 MB)
    scen = z.numpy().reshape(len(cols), rows.size, n_scenarios)
    scen *= prep.sigma[rows][:, cols].T[:, :, None].astype(np.float32)
    scen += prep.loc[rows][:, cols].T[:, :, None].astype(np.float32)
    realized = history[names].to_numpy(dtype=np.float64)[rows].T
    frame = risk_frame_from_scenarios(scen, dates, names, realized, design=design)
    return frame, ScenarioSet(scenarios=scen, dates=dates, series=names, design=design)


# ---------------------------------------------------------------------------- diagnostics
def validation_diagnostics(
    frame: pd.DataFrame,
    scenarios: ScenarioSet,
    alphas: Sequence[float] = SCORE_ALPHAS,
    n_bins: int = 10,
) -> pd.DataFrame:
    """Exception rates, FZ0 and the PIT of each realised return within its scenarios.

    Parameters
    ----------
    frame : DataFrame
        Forecast table (``date, series, realized, var_XX, cvar_XX``).
    scenarios : ScenarioSet
        The scenarios the table was computed from.
    alphas : sequence of float
        Tail probabilities to report (default 5 % and 1 %).
    n_bins : int
        PIT histogram bins.

    Returns
    -------
    DataFrame, one row per series
        ``n_obs``, ``exception_rate_XX`` (share of days with ``r_t < VaR_t``),
        ``fz0_XX``, ``pit_ks_stat``, ``pit_ks_pvalue`` (KS test of the PIT values against
        U(0, 1)), ``pit_hist`` (list of bin frequencies, each ideally ``1 / n_bins``).

    Notes
    -----
    The PIT of day t is :func:`diffrisk.risk.scoring.pit_values`: the share of scenarios
    below ``r_t``, ties counted as half (the mid-rank rule, also used by Figure 1). With
    N scenarios it lives on a grid of step 1/(2N), which the KS test ignores (negligible
    for N ≥ 500).
    """
    rows = []
    for name in scenarios.series:
        sub = frame[frame["series"] == name].set_index("date").reindex(scenarios.dates)
        if sub["realized"].isna().any():
            raise ValueError(f"frame lacks rows for series {name!r} on some scenario dates")
        r = sub["realized"].to_numpy(dtype=float)
        scen = np.asarray(scenarios.for_series(name), dtype=float)
        pit = pit_values(scen, r)
        ks = stats.kstest(pit, "uniform")
        hist, _ = np.histogram(pit, bins=n_bins, range=(0.0, 1.0))
        row: dict[str, Any] = {"series": name, "n_obs": int(r.size)}
        for a in alphas:
            v = sub[var_column(a)].to_numpy(dtype=float)
            e = sub[cvar_column(a)].to_numpy(dtype=float)
            tag = var_column(a)[4:]
            row[f"exception_rate_{tag}"] = float(np.mean(r < v))
            row[f"fz0_{tag}"] = fz0_mean(r, v, e, a)
        row.update(
            {
                "pit_ks_stat": float(ks.statistic),
                "pit_ks_pvalue": float(ks.pvalue),
                "pit_hist": (hist / max(r.size, 1)).tolist(),
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ helpers
def fz0_mean(
    returns: NDArray[np.floating],
    var_: NDArray[np.floating],
    es: NDArray[np.floating],
    alpha: float,
) -> float:
    """Mean FZ0 loss (:func:`diffrisk.backtest.fz0_loss`) in return space; lower is better.

    ``FZ0 = -1{r <= v} (v - r) / (alpha e) + v / e + log(-e) - 1`` (Patton, Ziegel & Chen
    2019). The loss is defined for ES < 0 only, and it falls without bound as ES rises
    towards 0, so a degenerate forecast (e.g. an untrained or collapsed model whose lower
    tail lies above zero) must not be scored by capping ES: that would make it the best.
    Any ES forecast >= 0 makes the mean ``+inf`` — the worst score, never selected.
    """
    e = np.asarray(es, dtype=float)
    if e.size and np.nanmax(e) >= 0.0:
        return math.inf
    return float(np.mean(fz0_loss(returns, var_, e, alpha)))
