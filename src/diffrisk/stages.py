"""Entry points of the pipeline stages.

Each ``run_<stage>`` function is what a stage notebook calls after its ``parameters``
cell: it takes the stage's parameters as explicit arguments, reads its inputs from the
paths of :mod:`diffrisk.paths`, validates everything before writing anything, writes its
outputs atomically and returns what the notebook displays.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import audit, data, io, paths

__all__ = ["run_data", "markdown_table", "parse_list"]

logger = logging.getLogger(__name__)


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """Render a DataFrame as a GitHub Markdown table."""
    return frame.to_markdown(index=False, floatfmt=floatfmt) + "\n"


def parse_list(value: str | Sequence[str] | None) -> list[str]:
    """Parse a comma-separated parameter (``"portfolio,sp500"``) into a list of names.

    DVC cannot interpolate YAML lists into a command line, so list parameters are
    comma-separated strings; a real list is accepted too.
    """
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(v).strip() for v in items if str(v).strip()]


def run_data(
    *,
    source: str = "skfolio",
    csv_path: str = "",
    date_column: str = "Date",
    index_column: str = "",
    index_name: str = "sp500",
    tickers: str | Sequence[str] = "",
    start: str = "",
    end: str = "",
    max_ffill: int = 3,
    fix_spikes: bool = False,
    spike_threshold: float = 8.0,
    train_end: str = "2014-12-31",
    val_start: str = "2015-01-01",
    val_end: str = "2018-12-31",
    test_start: str = "2019-01-01",
    test_end: str = "",
    series: str | Sequence[str] = "portfolio,sp500",
    min_train: int = 500,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``data`` stage: load, validate, build returns, summarise, write.

    Parameters
    ----------
    source, csv_path, date_column, index_column, index_name, tickers, start, end, max_ffill
        See :func:`diffrisk.data.load_prices` (``data.*`` parameters); ``tickers`` is
        comma-separated ("" = all).
    fix_spikes : bool
        Adjust detected isolated spikes (they are always reported).
    spike_threshold : float
        Spike size in robust standard deviations.
    train_end, val_start, val_end, test_start, test_end : str
        Split boundaries (``test_end`` empty = end of data).
    series : str or sequence of str
        Headline series of the study's tables (comma-separated); each must exist.
    min_train : int
        Minimum number of training returns.
    seed : int
        Study seed (recorded in the provenance).

    Returns
    -------
    dict
        ``returns`` (DataFrame), ``summary`` (DataFrame), ``spikes`` (DataFrame),
        ``metrics`` (dict), ``series`` (the headline series).

    Outputs
    -------
    ``data/raw/prices.parquet``, ``data/processed/returns.parquet`` (+ ``.audit.json``),
    ``reports/tables/data_summary.{csv,md}``, ``reports/tables/data_spikes.csv``,
    ``reports/metrics/data.json``.
    """
    params = {k: v for k, v in locals().items() if k != "seed"}
    splits = data.Splits.from_params(train_end, val_start, val_end, test_start, test_end or None)
    prices, index = data.load_prices(
        source=source,
        csv_path=csv_path or None,
        date_column=date_column,
        index_column=index_column or None,
        index_name=index_name,
        tickers=parse_list(tickers) or None,
        start=start or None,
        end=end or None,
        max_ffill=int(max_ffill),
    )
    spikes = data.detect_spikes(prices, threshold=float(spike_threshold))
    logger.info("found %d isolated spikes (fix_spikes=%s)", len(spikes), fix_spikes)
    cleaned = data.fix_spikes(prices, spikes) if fix_spikes and len(spikes) else prices
    returns = data.build_returns(cleaned, index)
    headline = data.check_series(parse_list(series), returns, "data.series")
    splits.check_against(returns, min_train=int(min_train))
    summary = data.summary_table(returns, splits)

    snapshot = prices.copy()
    if index is not None:
        snapshot[index.name] = index
    data_hash = audit.frame_sha256(snapshot)
    labels = splits.labels(returns.index)
    metrics = {
        "n_series": int(returns.shape[1]),
        "n_constituents": int(prices.shape[1]),
        "first_date": str(returns.index[0].date()),
        "last_date": str(returns.index[-1].date()),
        "n_spikes": len(spikes),
        "spikes_fixed": bool(fix_spikes and len(spikes)),
        **{f"n_{s}": int((labels == s).sum()) for s in data.SPLIT_NAMES},
        "data_sha256": data_hash,
    }

    io.write_parquet(paths.raw_prices_file(), snapshot)
    io.write_parquet(paths.returns_file(), returns)
    record = audit.provenance(params, seed, data_hash, extra={"outputs": metrics})
    audit.write_provenance(paths.returns_file().with_suffix(".audit.json"), record)
    io.write_csv(paths.tables_dir() / "data_summary.csv", summary, index=False, float_format="%.6g")
    io.write_text(paths.tables_dir() / "data_summary.md", markdown_table(summary))
    io.write_csv(paths.tables_dir() / "data_spikes.csv", spikes, index=False, float_format="%.6g")
    io.write_json(paths.metrics_dir() / "data.json", metrics)
    return {
        "returns": returns,
        "summary": summary,
        "spikes": spikes,
        "metrics": metrics,
        "series": headline,
    }


# --------------------------------------------------------------------------- shared


def split_from(
    train_end: str, val_start: str, val_end: str, test_start: str, test_end: str = ""
) -> data.Splits:
    """The :class:`~diffrisk.data.Splits` of the ``data.*`` split parameters."""
    return data.Splits.from_params(train_end, val_start, val_end, test_start, test_end or None)


# --------------------------------------------------------------------------- baselines


def run_baselines(
    *,
    methods: str | Sequence[str] = "hs,mc_normal,garch_t,fhs",
    window: int = 250,
    n_scenarios: int = 500,
    refit_every: int = 20,
    min_obs: int = 1000,
    max_obs: int = 5000,
    fhs_residuals: int = 1000,
    splits: data.Splits,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``baselines`` stage: classical forecasts for every series and test day.

    Parameters
    ----------
    methods : str or sequence of str
        Baselines to run (comma-separated), among ``hs, mc_normal, garch_t, fhs``.
    window : int
        Look-back of ``hs`` and ``mc_normal`` (days).
    n_scenarios : int
        Scenarios of ``mc_normal`` and ``garch_t`` (as many as the DDPM draws).
    refit_every, min_obs, max_obs : int
        GARCH refit frequency (forecast days), minimum history and longest (rolling) fit
        window for ``garch_t``/``fhs`` (0 = expanding window).
    fhs_residuals : int
        Number of most recent standardised residuals used by ``fhs``.
    splits : Splits
        The study's periods; forecasts are made for every test day.
    seed : int
        Study seed.

    Returns
    -------
    dict
        ``{"forecasts": {method: frame}, "timings": {method: seconds}}``.

    Outputs
    -------
    ``data/forecasts/<method>.parquet``, ``<method>_scenarios.npz``, ``<method>.audit.json``.
    """
    import time

    from . import baselines, forecasts

    names = parse_list(methods)
    returns = data.load_returns()
    dates = splits.dates(returns, "test")
    config = {
        "hs": {"window": int(window)},
        "mc_normal": {"window": int(window), "n_scenarios": int(n_scenarios)},
        "garch_t": {
            "refit_every": int(refit_every),
            "min_obs": int(min_obs),
            "max_obs": int(max_obs) or None,
            "n_scenarios": int(n_scenarios),
        },
        "fhs": {
            "refit_every": int(refit_every),
            "min_obs": int(min_obs),
            "max_obs": int(max_obs) or None,
            "n_scenarios": int(fhs_residuals),
        },
    }
    config = {m: c for m, c in config.items() if m in names}
    tic = time.perf_counter()
    results = baselines.run_baselines(returns, dates, names, config, seed=int(seed))
    elapsed = time.perf_counter() - tic
    data_hash = audit.recorded_data_hash()
    for method, (frame, scen) in results.items():
        record = audit.provenance(
            {"method": method, **config.get(method, {})},
            seed,
            data_hash,
            extra={"forecast_dates": [str(dates[0].date()), str(dates[-1].date())]},
        )
        forecasts.save_forecasts(method, frame, scen, provenance=record)
    logger.info("baselines stage: %d methods in %.1f s", len(results), elapsed)
    return {"forecasts": {m: r[0] for m, r in results.items()}, "seconds": elapsed}


# --------------------------------------------------------------------------- DDPM


def ddpm_config(ddpm: Mapping[str, Any], use_tuned: bool) -> tuple[Any, dict[str, Any]]:
    """The DDPM configuration: ``params.yaml``'s ``ddpm`` section, then tuned values.

    When ``use_tuned`` and ``models/best_params.yaml`` holds tuned values (the tune stage
    ran with ``tune.enabled``), they override the section; otherwise the section is used
    as is.

    Returns
    -------
    config : DDPMConfig
    tuned : dict
        The overrides applied (empty when none).
    """
    import yaml

    from .ddpm import DDPMConfig

    tuned: dict[str, Any] = {}
    path = paths.best_params_file()
    if use_tuned and path.is_file():
        record = yaml.safe_load(path.read_text()) or {}
        if record.get("tuned"):
            tuned = dict(record.get("best_params", {}))
    return DDPMConfig.from_dict({**dict(ddpm), **tuned}), tuned


def run_train(
    *,
    ddpm: Mapping[str, Any],
    use_tuned: bool,
    splits: data.Splits,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``train`` stage: fit the DDPM on train, select on validation, save.

    Parameters
    ----------
    ddpm : mapping
        The ``ddpm`` section of ``params.yaml`` (fields of :class:`~diffrisk.ddpm.DDPMConfig`).
    use_tuned : bool
        Apply the tune stage's best parameters (``tune.enabled``).
    splits : Splits
        Training / validation periods (the test period is dropped before fitting).
    seed : int
        Study seed.

    Returns
    -------
    dict
        ``metrics`` (as written to ``reports/metrics/train.json``), ``config``, ``tuned``.
    """
    from .ddpm import fit_ddpm

    config, tuned = ddpm_config(ddpm, use_tuned)
    returns = data.returns_until(data.load_returns(), splits, "validation")
    logger.info("training the DDPM on %d days × %d series", *returns.shape)
    model, metrics = fit_ddpm(
        returns, splits, config, seed=int(seed), checkpoint_path=paths.ddpm_checkpoint()
    )
    history = metrics.get("history", {})
    summary = {
        "best_epoch": metrics.get("best_epoch"),
        "best_val_score": metrics.get("best_val_score"),
        "epochs_run": metrics.get("epochs_run"),
        "stopped_early": metrics.get("stopped_early"),
        "final_refit": metrics.get("final_refit"),
        "wall_time_s": round(float(metrics.get("wall_time_s", 0.0)), 1),
        "history": history,
        "tuned_params": tuned,
    }
    record = audit.provenance(
        {"ddpm": config.to_dict(), "tuned": tuned}, seed, audit.recorded_data_hash()
    )
    audit.write_provenance(paths.ddpm_checkpoint().with_suffix(".audit.json"), record)
    io.write_json(paths.metrics_dir() / "train.json", _without_timing(summary))
    io.write_json(paths.models_dir() / "train_timing.json", {"wall_time_s": summary["wall_time_s"]})
    return {"metrics": summary, "config": config, "tuned": tuned}


def _without_timing(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Drop wall-clock fields so the committed metrics are identical between runs."""
    return {k: v for k, v in summary.items() if not k.startswith("wall_time")}


def run_generate(
    *,
    n_scenarios: int,
    sampler: str,
    n_steps: int,
    eta: float,
    spacing: str,
    noise: str,
    large_n_scenarios: int,
    headline: str | Sequence[str],
    splits: data.Splits,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``generate`` stage: DDPM scenarios for every test day and series.

    Writes three forecast sets (DESIGN §5 format, with scenarios and provenance):

    * ``ddpm`` — the configured sampler (``sampler``, ``n_steps``, ``eta``) with
      ``n_scenarios`` scenarios, every series;
    * ``ddpm_ancestral`` — the ancestral DDPM sampler over all diffusion steps, headline
      series (the reference the fast sampler is compared with);
    * ``ddpm_5000`` — ``large_n_scenarios`` scenarios with the configured sampler,
      headline series (how much of the tail noise is Monte-Carlo error).

    Returns
    -------
    dict
        ``{"forecasts": {method: frame}, "diagnostics": DataFrame, "seconds": {...}}``.
    """
    import time

    from . import forecasts
    from .ddpm import forecast_ddpm, load_checkpoint, validation_diagnostics

    model = load_checkpoint(paths.ddpm_checkpoint())
    returns = data.load_returns()
    dates = splits.dates(returns, "test")
    heads = data.check_series(parse_list(headline), returns, "data.series")
    runs = {
        "ddpm": {
            "sampler": sampler,
            "n_steps": int(n_steps),
            "n_scenarios": int(n_scenarios),
            "series": None,
        },
        "ddpm_ancestral": {
            "sampler": "ddpm",
            "n_steps": None,
            "n_scenarios": int(n_scenarios),
            "series": heads,
        },
        "ddpm_5000": {
            "sampler": sampler,
            "n_steps": int(n_steps),
            "n_scenarios": int(large_n_scenarios),
            "series": heads,
        },
    }
    data_hash = audit.recorded_data_hash()
    ckpt_hash = audit.file_sha256(paths.ddpm_checkpoint())
    out, seconds, diags = {}, {}, []
    for method, run in runs.items():
        tic = time.perf_counter()
        frame, scen = forecast_ddpm(
            model,
            returns,
            dates,
            n_scenarios=run["n_scenarios"],
            sampler=run["sampler"],
            n_steps=run["n_steps"],
            eta=float(eta),
            spacing=spacing,
            noise=noise,
            seed=int(seed),
            series=run["series"],
        )
        seconds[method] = round(time.perf_counter() - tic, 1)
        logger.info(
            "%s: %d days × %d series in %.1f s",
            method,
            len(dates),
            len(scen.series),
            seconds[method],
        )
        record = audit.provenance(
            {
                "method": method,
                **{k: v for k, v in run.items() if k != "series"},
                "eta": eta,
                "spacing": spacing,
                "noise": noise,
                "series": scen.series,
                "ddpm": model.config.to_dict(),
            },
            seed,
            data_hash,
            extra={"checkpoint_sha256": ckpt_hash},
        )
        forecasts.save_forecasts(method, frame, scen, provenance=record)
        diag = validation_diagnostics(frame, scen)
        diag.insert(0, "method", method)
        diags.append(diag)
        out[method] = frame
    diagnostics = pd.concat(diags, ignore_index=True)
    io.write_csv(
        paths.tables_dir() / "ddpm_diagnostics.csv", diagnostics, index=False, float_format="%.6g"
    )
    io.write_json(paths.models_dir() / "generate_timing.json", seconds)
    return {"forecasts": out, "diagnostics": diagnostics, "seconds": seconds}


def splits_from_data_params(data_params: Mapping[str, Any]) -> data.Splits:
    """The :class:`~diffrisk.data.Splits` of the ``data`` section of ``params.yaml``."""
    keys = ("train_end", "val_start", "val_end", "test_start", "test_end")
    missing = [k for k in keys[:4] if k not in data_params]
    if missing:
        raise data.DataError(f"parameters data.{missing[0]} missing (need {list(keys)})")
    return split_from(*(str(data_params.get(k) or "") for k in keys))


# --------------------------------------------------------------------------- tune


def run_tune(
    *,
    enabled: bool,
    n_trials: int,
    timeout: float,
    storage: str,
    overrides: Mapping[str, Any],
    ddpm: Mapping[str, Any],
    splits: data.Splits,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``tune`` stage: an Optuna study on the validation period.

    Parameters
    ----------
    enabled : bool
        ``tune.enabled``; when off, ``models/best_params.yaml`` records ``tuned: false``
        and the train stage uses ``params.yaml`` as is.
    n_trials : int
        Finished trials the study should have.
    timeout : float
        Seconds after which no new trial starts (0 = none).
    storage : str
        Optuna storage URL; "" = SQLite ``models/optuna.db`` (an interrupted study resumes).
    overrides : mapping
        DDPMConfig fields fixed for tuning only (e.g. fewer epochs).
    ddpm : mapping
        The ``ddpm`` section (the values not searched).
    splits : Splits
    seed : int

    Returns
    -------
    dict
        ``record`` (what was written to best_params.yaml), ``trials`` (DataFrame).
    """
    from dataclasses import replace

    import matplotlib.pyplot as plt
    import yaml

    from . import reports, tuning
    from .ddpm import DDPMConfig

    returns = data.returns_until(data.load_returns(), splits, "validation")
    trials = pd.DataFrame(columns=["number", "state", "value"])
    if enabled:
        base = replace(DDPMConfig.from_dict(dict(ddpm)), **dict(overrides))
        url = storage or f"sqlite:///{paths.models_dir() / 'optuna.db'}"
        paths.models_dir().mkdir(parents=True, exist_ok=True)
        name = tuning.study_name_for(base, tuning.DEFAULT_SPACE, seed, audit.frame_sha256(returns))
        study = tuning.run_study(
            returns, splits, base, int(seed), int(n_trials), float(timeout) or None, url, name
        )
        record = tuning.best_params_record(study)
        trials = tuning.trials_frame(study)
    else:
        record = {"tuned": False, "reason": "tune.enabled is false: train uses params.yaml"}
    io.write_text(paths.best_params_file(), yaml.safe_dump(record, sort_keys=True))
    io.write_csv(paths.tables_dir() / "tune_trials.csv", trials, index=False, float_format="%.6g")
    io.write_json(
        paths.metrics_dir() / "tune.json", {k: v for k, v in record.items() if k != "reason"}
    )
    reports.set_style()
    for stem, draw in (
        ("tune_history", _draw_tune_history),
        ("tune_importance", _draw_tune_importance),
    ):
        fig = draw(trials, seed)
        reports.save_figure(fig, stem)
        plt.close(fig)
    return {"record": record, "trials": trials}


def _draw_tune_history(trials: pd.DataFrame, seed: int):
    """Validation FZ0 of every complete trial and the running best."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    done = trials[trials["state"] == "COMPLETE"] if len(trials) else trials
    if len(done):
        ax.plot(done["number"], done["value"], "o", label="trial")
        ax.plot(done["number"], done["value"].cummin(), "-", label="best so far")
        ax.legend()
    else:
        ax.text(
            0.5, 0.5, "tuning disabled (tune.enabled: false)", ha="center", transform=ax.transAxes
        )
    ax.set_xlabel("trial")
    ax.set_ylabel("validation FZ0 (mean of 5 % and 1 %)")
    ax.set_title("Optuna optimisation history")
    fig.tight_layout()
    return fig


def _draw_tune_importance(trials: pd.DataFrame, seed: int):
    """Plot the fANOVA importance of each searched parameter (needs >= 3 trials)."""
    import matplotlib.pyplot as plt
    import optuna

    fig, ax = plt.subplots(figsize=(6, 3.5))
    done = trials[trials["state"] == "COMPLETE"] if len(trials) else trials
    params = [c for c in trials.columns if c.startswith("param_")]
    if len(done) >= 3 and params:
        dists = {}
        for col in params:
            values = done[col].tolist()
            if all(isinstance(v, (int, float)) for v in values) and len(set(values)) > 1:
                lo, hi = float(min(values)), float(max(values))
                dists[col[6:]] = optuna.distributions.FloatDistribution(lo, hi)
            else:
                dists[col[6:]] = optuna.distributions.CategoricalDistribution(
                    sorted(set(map(str, values)))
                )
        study = optuna.create_study(direction="minimize")
        for _, row in done.iterrows():
            p = {}
            for name, dist in dists.items():
                v = row[f"param_{name}"]
                p[name] = (
                    str(v)
                    if isinstance(dist, optuna.distributions.CategoricalDistribution)
                    else float(v)
                )
            study.add_trial(
                optuna.trial.create_trial(params=p, distributions=dists, value=float(row["value"]))
            )
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=int(seed))
        importance = optuna.importance.get_param_importances(study, evaluator=evaluator)
        names = list(importance)[::-1]
        ax.barh(names, [importance[n] for n in names])
        ax.set_xlabel("fANOVA importance (share of variance of validation FZ0)")
    else:
        ax.text(0.5, 0.5, "needs >= 3 complete trials", ha="center", transform=ax.transAxes)
    ax.set_title("Hyper-parameter importance")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- coverage


def _load_method_sets(methods: Sequence[str]) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    from . import forecasts

    frames = {m: forecasts.load_forecasts(m) for m in methods}
    scen = {m: forecasts.load_scenarios(m) for m in methods}
    return frames, scen


def run_coverage(
    *,
    methods: str | Sequence[str],
    benchmark: str = "fhs",
    n_sim: int = 1000,
    headline: str | Sequence[str] = "portfolio,sp500",
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``coverage`` stage: the full backtest battery on the test period.

    Parameters
    ----------
    methods : str or sequence of str
        Methods whose forecasts are tested (comma-separated; files under data/forecasts).
    benchmark : str
        Method every other is compared with by Diebold–Mariano (FZ0 loss).
    n_sim : int
        Simulations of the Acerbi–Szekely Z2 p-value (under each method's own scenarios).
    headline : str or sequence of str
        Headline series (reported in ``reports/metrics/backtests.json``; excluded from the
        per-constituent table).
    seed : int
        Study seed.

    Returns
    -------
    dict
        ``backtests``, ``traffic_light``, ``diebold_mariano``, ``constituents`` DataFrames.

    Outputs
    -------
    ``reports/tables/backtests.csv`` (DESIGN §5 columns), ``traffic_light.{csv,md}``,
    ``diebold_mariano.{csv,md}``, ``constituent_coverage.{csv,md}``,
    ``reports/metrics/backtests.json``.
    """
    from . import backtest

    names = parse_list(methods)
    heads = parse_list(headline)
    if benchmark not in names:
        raise ValueError(f"parameter coverage.benchmark={benchmark!r} is not among {names}")
    frames, scen = _load_method_sets(names)
    table = backtest.backtest_table(frames, scen, n_sim=int(n_sim), seed=int(seed))
    traffic = backtest.traffic_light_table(frames)
    dm = pd.concat(
        [
            backtest.diebold_mariano_table(frames, benchmark=benchmark, loss="fz0"),
            backtest.diebold_mariano_table(frames, benchmark=benchmark, loss="pinball"),
        ],
        ignore_index=True,
    )
    constituents = backtest.constituent_coverage_table(frames, exclude=heads)
    mc_error = mc_error_table(scen, heads)
    tables = paths.tables_dir()
    io.write_csv(tables / "backtests.csv", table, index=False, float_format="%.6g")
    io.write_text(tables / "backtests.md", markdown_table(table))
    for stem, frame in (
        ("traffic_light", traffic),
        ("diebold_mariano", dm),
        ("constituent_coverage", constituents),
        ("mc_error", mc_error),
    ):
        io.write_csv(tables / f"{stem}.csv", frame, index=False, float_format="%.6g")
        io.write_text(tables / f"{stem}.md", markdown_table(frame))
    io.write_json(paths.metrics_dir() / "backtests.json", headline_metrics(table, heads))
    return {
        "backtests": table,
        "traffic_light": traffic,
        "diebold_mariano": dm,
        "constituents": constituents,
        "mc_error": mc_error,
    }


def mc_error_table(
    scenarios: Mapping[str, Any], headline: Sequence[str], alphas: Sequence[float] = (0.05, 0.01)
) -> pd.DataFrame:
    """Monte-Carlo error of scenario-based VaR/CVaR: mean daily asymptotic standard error.

    One row per (series, method, alpha) for the simulation-based methods (``mc_normal``
    and every ``ddpm*`` run) on the headline series: ``n_scenarios``, ``var_se`` and
    ``cvar_se`` (averaged over test days, in return units), and their ratio to the mean
    absolute VaR/CVaR (how much of a forecast is sampling noise).
    """
    from .risk import var_cvar_asymptotic_se

    rows = []
    for method, scen in scenarios.items():
        if not (method.startswith("ddpm") or method == "mc_normal"):
            continue
        for series in headline:
            if series not in scen.series:
                continue
            draws = np.asarray(scen.for_series(series), dtype=np.float64)
            for alpha in alphas:
                err = var_cvar_asymptotic_se(draws, alpha)
                rows.append(
                    {
                        "series": series,
                        "method": method,
                        "alpha": alpha,
                        "n_scenarios": draws.shape[-1],
                        "var_se": float(np.mean(err.var_se)),
                        "cvar_se": float(np.mean(err.cvar_se)),
                        "var_se_rel": float(np.mean(err.var_se) / np.mean(np.abs(err.var))),
                        "cvar_se_rel": float(np.mean(err.cvar_se) / np.mean(np.abs(err.cvar))),
                    }
                )
    return pd.DataFrame(
        rows,
        columns=[
            "series",
            "method",
            "alpha",
            "n_scenarios",
            "var_se",
            "cvar_se",
            "var_se_rel",
            "cvar_se_rel",
        ],
    )


def headline_metrics(table: pd.DataFrame, headline: Sequence[str]) -> dict[str, Any]:
    """Nested ``{series: {method: {alpha: {fz0, exception_rate, kupiec_p, …}}}}``."""
    out: dict[str, Any] = {}
    keep = ["fz0_mean", "exception_rate", "kupiec_p", "christoffersen_cc_p", "as_z2", "avg_cvar"]
    for row in table[table["series"].isin(list(headline))].itertuples(index=False):
        cell = out.setdefault(row.series, {}).setdefault(row.method, {})
        cell[f"alpha_{row.alpha:g}"] = {k: getattr(row, k) for k in keep}
    return out


# --------------------------------------------------------------------------- simulation


def run_simulation_stage(
    *,
    ddpm: Mapping[str, Any],
    use_tuned: bool,
    baseline_params: Mapping[str, Any],
    generate_params: Mapping[str, Any],
    n_scenarios: int,
    splits: data.Splits,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``simulate`` stage: every method on a GARCH-t series with known truth.

    A GARCH(1,1)-t series with the parameters of
    :data:`diffrisk.simulation.DEFAULT_PARAMS` is simulated on the study's calendar; the
    baselines (with the ``baselines`` parameters) and the DDPM (the same configuration
    as the main run, fitted on the simulated training period and selected on its
    validation period) forecast its test period; each method's FZ0 is compared with the
    true model's, the floor no method can beat in expectation.

    Parameters
    ----------
    ddpm, use_tuned
        As for :func:`run_train`.
    baseline_params : mapping
        The ``baselines`` section (window, refit_every, min_obs, fhs_residuals).
    generate_params : mapping
        The ``generate`` section (sampler, n_steps, eta, spacing, noise).
    n_scenarios : int
        Scenarios per day.
    splits : Splits
    seed : int

    Returns
    -------
    dict
        ``table`` (``reports/tables/simulation.csv``), ``params`` (the true parameters).
    """
    from dataclasses import asdict

    from . import simulation
    from .ddpm import fit_ddpm, forecast_ddpm

    config, tuned = ddpm_config(ddpm, use_tuned)
    calendar = data.load_returns().index
    test_dates = splits.dates(pd.DataFrame(index=calendar), "test")
    runners = simulation.default_runners(
        window=int(baseline_params["window"]),
        n_scenarios=int(n_scenarios),
        refit_every=int(baseline_params["refit_every"]),
        min_obs=int(baseline_params["min_obs"]),
        fhs_residuals=int(baseline_params["fhs_residuals"]),
        seed=int(seed),
    )

    def ddpm_runner(returns: pd.DataFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        model, _ = fit_ddpm(returns, splits, config, seed=int(seed), progress=False)
        frame, _ = forecast_ddpm(
            model,
            returns,
            dates,
            n_scenarios=int(n_scenarios),
            sampler=generate_params["sampler"],
            n_steps=int(generate_params["n_steps"]),
            eta=float(generate_params["eta"]),
            spacing=generate_params["spacing"],
            noise=generate_params["noise"],
            seed=int(seed),
            progress=False,
        )
        return frame

    runners["ddpm"] = ddpm_runner
    params = simulation.DEFAULT_PARAMS
    table = simulation.run_simulation(runners, params, calendar, test_dates, seed=int(seed))
    simulation.save_simulation_table(table)
    caption = (
        "**Table S1. Known-truth simulation.** Mean FZ0 of each method on a simulated "
        "GARCH(1,1)-t series (known parameters) and its excess over the true model's "
        "(the floor; Diebold–Mariano against the true model).\n\n"
    )
    io.write_text(paths.tables_dir() / "simulation.md", caption + markdown_table(table))
    record = audit.provenance(
        {
            "true_params": asdict(params),
            "ddpm": config.to_dict(),
            "tuned": tuned,
            "baselines": dict(baseline_params),
            "generate": dict(generate_params),
        },
        seed,
        audit.recorded_data_hash(),
    )
    audit.write_provenance(paths.data_dir() / "simulation.audit.json", record)
    return {"table": table, "params": asdict(params)}


# --------------------------------------------------------------------------- tables, figures


def _read_table(stem: str) -> pd.DataFrame:
    path = paths.tables_dir() / f"{stem}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the coverage stage first")
    return pd.read_csv(path)


def run_cvar_tables() -> dict[str, pd.DataFrame]:
    """Run the ``cvar_tables`` stage: the paper's Tables 1–2 and the extended Table 3.

    Reads ``backtests.csv``, ``diebold_mariano.csv``, ``traffic_light.csv`` and
    ``mc_error.csv`` (written by ``coverage``) and writes
    ``reports/tables/table{1_cvar,2_coverage,3_extended}.{csv,md,tex}``.

    Returns
    -------
    dict
        ``table1``, ``table2``, ``table3`` as DataFrames.
    """
    from . import reports

    backtests = _read_table("backtests")
    dm = _read_table("diebold_mariano")
    traffic = _read_table("traffic_light")
    mc = _read_table("mc_error")
    reports.write_paper_tables(backtests, dm_table=dm, traffic_windows=traffic, mc_errors=mc)
    return {
        "table1": reports.table1_cvar(backtests),
        "table2": reports.table2_coverage(backtests),
        "table3": reports.extended_table(backtests, dm, traffic, mc),
    }


def run_figures(
    *,
    methods: str | Sequence[str],
    distribution_methods: str | Sequence[str] = "ddpm,mc_normal,hs",
    headline: str | Sequence[str] = "portfolio,sp500",
    fig3_alpha: float = 0.01,
) -> dict[str, Any]:
    """Run the ``figures`` stage: the paper's Figures 1–3 for each headline series.

    Parameters
    ----------
    methods : str or sequence of str
        Methods drawn in Figures 2–3 (one panel each).
    distribution_methods : str or sequence of str
        Methods whose scenarios Figure 1 compares with the realised returns.
    headline : str or sequence of str
        Series; the first gets ``fig1_distribution.png`` etc., the others
        ``fig1_distribution_<series>.png``.
    fig3_alpha : float
        Tail probability of Figure 3's VaR-to-CVaR band.

    Returns
    -------
    dict
        File stem → (PNG, PDF) paths.
    """
    from . import forecasts, reports

    frames = {m: forecasts.load_forecasts(m) for m in parse_list(methods)}
    scen = {m: forecasts.load_scenarios(m) for m in parse_list(distribution_methods)}
    return reports.write_paper_figures(
        frames, scen, series=parse_list(headline), fig3_alpha=float(fig3_alpha)
    )


STRESS_FIGURES: tuple[str, ...] = (
    "stress_corr_heatmaps",
    "stress_tail_dependence",
    "stress_fan_charts",
    "stress_acf",
)


def run_report(
    *,
    params: Mapping[str, Any],
    splits: data.Splits,
    headline: str | Sequence[str] = "portfolio,sp500",
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``report`` stage: ``reports/STUDY.md`` and HTML renderings of the notebooks.

    Parameters
    ----------
    params : mapping
        The study's parameters (recorded in the provenance block).
    splits : Splits
        For the test period shown in the report.
    headline : str or sequence of str
        Series discussed.
    seed : int

    Returns
    -------
    dict
        ``path`` (STUDY.md) and ``html`` (rendered notebooks).
    """
    from . import reports

    backtests = _read_table("backtests")
    dm = _read_table("diebold_mariano")
    html = reports.render_notebooks_html(
        paths.executed_notebooks_dir(), paths.reports_dir() / "html"
    )
    test_dates = splits.dates(data.load_returns(), "test")
    record = audit.provenance(dict(params), seed, audit.recorded_data_hash())
    extra_figures = [
        f"{stem}_{name}" for name in parse_list(headline)[1:] for stem in reports.FIGURE_STEMS
    ]
    path = reports.write_study_report(
        backtests,
        record,
        dm_table=dm,
        tables=(*reports.TABLE_STEMS, "simulation"),
        figures=(*reports.FIGURE_STEMS, *extra_figures),
        notebooks_html=html,
        test_period=(test_dates[0], test_dates[-1]),
        series=parse_list(headline),
    )
    stress_section = paths.tables_dir() / "stress_section.md"
    if stress_section.is_file():
        text = path.read_text(encoding="utf-8").rstrip("\n")
        figures = [
            f"![{stem}](figures/{stem}.png) ([PDF](figures/{stem}.pdf))"
            for stem in STRESS_FIGURES
            if (paths.figures_dir() / f"{stem}.png").is_file()
        ]
        section = stress_section.read_text(encoding="utf-8").rstrip("\n")
        io.write_text(path, text + "\n\n" + section + "\n\n" + "\n\n".join(figures) + "\n")
    return {"path": path, "html": html}
