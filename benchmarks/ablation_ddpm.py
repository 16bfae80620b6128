"""Ablation of the DDPM risk model against FHS and GARCH-t.

Every configuration is fitted with :func:`diffrisk.ddpm.fit.fit_ddpm` (training <= train_end,
checkpoint selection on the validation period), then forecasts the validation period and,
with ``--splits validation test``, the test period. The FHS and GARCH-t baselines
(:mod:`diffrisk.baselines`, default arguments) are scored on the same days. Choices are
made on the validation rows only; test rows are reported for every configuration so the
table shows honestly how each would have done.

Writes ``reports/tables/ddpm_ablation.csv`` with one row per (config, split, series,
method): ``fz0_05, fz0_01, exception_rate_05, exception_rate_01, kupiec_p_05, kupiec_p_01,
christoffersen_p_05, christoffersen_p_01`` (conditional coverage), ``fit_s, sample_s``,
``in_sample`` (True for validation rows of a ``final_refit`` model, which was refitted on
train + validation: those rows are not out-of-sample).

Usage::

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE python benchmarks/ablation_ddpm.py \\
        --configs default ewma global --splits validation test

Sampling variants (``--variants``) reuse the ``default`` fit.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from typing import Any

from diffrisk.core import io
from diffrisk.data.returns import load_returns, returns_until
from diffrisk.data.splits import Splits

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from diffrisk.baselines.garch import fhs, garch_t
from diffrisk.core import paths  # noqa: E402
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.fit import fit_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm
from diffrisk.evaluation.coverage import christoffersen, kupiec_pof
from diffrisk.risk.scoring import fz0_loss

logger = logging.getLogger("ablation_ddpm")

#: fitted configurations: name -> DDPMConfig overrides of the defaults
FITS: dict[str, dict[str, Any]] = {
    "default": {},
    "no_final_refit": {"final_refit": False},
    "garch_o0": {"garch_o": 0},
    "garch_o0_no_refit": {"garch_o": 0, "final_refit": False},
    "ewma": {"scaling": "ewma", "final_refit": False},
    "global": {"scaling": "global", "final_refit": False},
    "no_gaussian_skip": {"gaussian_skip": False, "garch_o": 0, "final_refit": False},
    "single_series_portfolio": {
        "train_series": ("portfolio",),
        "val_series": ("portfolio",),
        "garch_o": 0,
        "final_refit": False,
    },
    "select_by_loss": {"select_by": "loss"},
    "series_embedding": {"series_embedding": True},
    "bigger_net": {"conv_width": 32, "hidden": 64, "cond_dim": 16},
    "no_dropout_wd": {"dropout": 0.0, "weight_decay": 0.0},
}
#: sampling variants evaluated on the ``default`` fit: name -> forecast_ddpm overrides
VARIANTS: dict[str, dict[str, Any]] = {
    "ddpm_ancestral": {"sampler": "ddpm", "noise": "iid"},
    "ddim_order1": {"order": 1},
    "ddim10": {"n_steps": 10},
    "ddim20": {"n_steps": 20},
    "ddim_iid_noise": {"noise": "iid"},
    "n5000": {"n_scenarios": 5000},
}
_PERIODS = {"validation": ("val_start", "val_end"), "test": ("test_start", "test_end")}


def score_frame(frame: pd.DataFrame, **labels: Any) -> list[dict[str, Any]]:
    """One row per series: FZ0, exception rate, Kupiec and Christoffersen (cc) p-values."""
    rows = []
    for name, g in frame.groupby("series", sort=False):
        r = g["realized"].to_numpy(dtype=float)
        row: dict[str, Any] = {**labels, "series": name, "n_obs": int(r.size)}
        for alpha, tag in ((0.05, "05"), (0.01, "01")):
            v = g[f"var_{tag}"].to_numpy(dtype=float)
            e = np.minimum(g[f"cvar_{tag}"].to_numpy(dtype=float), -1e-12)
            hits = r < v
            row[f"fz0_{tag}"] = float(np.mean(fz0_loss(r, v, e, alpha)))
            row[f"exception_rate_{tag}"] = float(hits.mean())
            row[f"kupiec_p_{tag}"] = float(kupiec_pof(hits, alpha).pvalue)
            row[f"christoffersen_p_{tag}"] = float(christoffersen(hits, alpha).pvalue_cc)
        rows.append(row)
    return rows


def period_dates(returns: pd.DataFrame, splits: Splits, split: str) -> pd.DatetimeIndex:
    return splits.dates(returns, split)


def history_for(returns: pd.DataFrame, splits: Splits, split: str) -> pd.DataFrame:
    """Validation forecasts never see test rows; test forecasts see everything before t."""
    if split == "validation":
        return returns_until(returns, splits, "validation")
    return returns


def baseline_rows(returns, splits, split, series) -> list[dict[str, Any]]:
    hist, dates = history_for(returns, splits, split), period_dates(returns, splits, split)
    rows = []
    for method, fn, kw in (("fhs", fhs, {}), ("garch_t", garch_t, {"seed": 0})):
        tic = time.perf_counter()
        frame, _ = fn(hist, dates, series=series, **kw)
        rows += score_frame(
            frame,
            config="baseline",
            split=split,
            method=method,
            fit_s=np.nan,
            in_sample=False,
            sample_s=time.perf_counter() - tic,
        )
    return rows


def static_filter_rows(returns, splits, split, series, garch_o: int) -> list[dict[str, Any]]:
    """Reference without diffusion: the GARCH (``garch_o=0``) or GJR (``1``) filter fitted
    <= train_end times the empirical standardised training residuals of the same series (a
    static-parameter FHS) — what the diffusion model adds is measured against this."""
    from diffrisk.ddpm.features import fit_scaler, scale_returns
    from diffrisk.forecasts import risk_frame_from_scenarios

    cfg = DDPMConfig()
    hist, dates = history_for(returns, splits, split), period_dates(returns, splits, split)
    scaler = fit_scaler(
        hist,
        splits.train_end,
        kind="garch",
        series=series,
        garch_o=garch_o,
        vol_floor=cfg.vol_floor,
    )
    loc, sigma, z = scale_returns(hist, scaler)
    train = hist.index <= splits.train_end
    rows_idx = hist.index.get_indexer(dates)
    scen = np.stack(
        [
            loc[rows_idx, j, None] + sigma[rows_idx, j, None] * z[train, j][None, :]
            for j in range(len(series))
        ]
    )
    realized = hist[series].to_numpy()[rows_idx].T
    frame = risk_frame_from_scenarios(scen, dates, series, realized)
    name = "gjr_filter_empirical" if garch_o else "garch_filter_empirical"
    return score_frame(
        frame,
        config="reference",
        split=split,
        method=name,
        fit_s=np.nan,
        in_sample=False,
        sample_s=np.nan,
    )


def ddpm_rows(name, returns, splits, split_list, series, seed, n_scenarios, variants) -> list[dict]:
    config = DDPMConfig(**FITS[name])
    tic = time.perf_counter()
    model, metrics = fit_ddpm(returns, splits, config, seed=seed, progress=False)
    fit_s = time.perf_counter() - tic
    rows = []
    runs = [(name, {})] + [(f"{name}+{v}", VARIANTS[v]) for v in variants]
    for label, over in runs:
        kw = {"n_scenarios": n_scenarios, **over}
        for split in split_list:
            tic = time.perf_counter()
            frame, _ = forecast_ddpm(
                model,
                history_for(returns, splits, split),
                period_dates(returns, splits, split),
                seed=seed + 1,
                series=series,
                progress=False,
                **kw,
            )
            rows += score_frame(
                frame,
                config=label,
                split=split,
                method="ddpm",
                in_sample=bool(config.final_refit and split == "validation"),
                fit_s=fit_s,
                sample_s=time.perf_counter() - tic,
                best_epoch=metrics["best_epoch"],
                best_val_score=metrics["best_val_score"],
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=list(FITS), choices=list(FITS))
    ap.add_argument(
        "--variants",
        nargs="*",
        default=list(VARIANTS),
        choices=list(VARIANTS),
        help="sampling variants run on the 'default' fit",
    )
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--splits", nargs="+", default=["validation", "test"], choices=list(_PERIODS))
    ap.add_argument("--series", nargs="+", default=["portfolio", "sp500"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-scenarios", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(paths.tables_dir() / "ddpm_ablation.csv"))
    ap.add_argument("--append", action="store_true", help="keep rows of other configs")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    returns = load_returns()
    splits = Splits.from_params("2014-12-31", "2015-01-01", "2018-12-31", "2019-01-01")
    rows: list[dict[str, Any]] = []
    if not args.no_baselines:
        for split in args.splits:
            rows += baseline_rows(returns, splits, split, args.series)
            rows += static_filter_rows(returns, splits, split, args.series, 0)
            rows += static_filter_rows(returns, splits, split, args.series, 1)
    for name in args.configs:
        logger.info("config %s", name)
        variants = args.variants if name == "default" else []
        rows += ddpm_rows(
            name,
            returns,
            splits,
            args.splits,
            args.series,
            args.seed,
            args.n_scenarios,
            variants,
        )
        table = pd.DataFrame(rows)
        if args.append and os.path.exists(args.out):
            old = pd.read_csv(args.out)
            old = old[~old["config"].isin(table["config"].unique())]
            table = pd.concat([old, table], ignore_index=True)
        io.write_csv(args.out, table, index=False)
        logger.info("wrote %s (%d rows)", args.out, len(table))


if __name__ == "__main__":
    main()
