"""Ablation of the stress-scenario generator on the VALIDATION period (test never read).

Every configuration (``stress.model`` of ``params.yaml`` with overrides) is trained with
:func:`diffrisk.stress.fit.train_stress_model` on windows ending by ``data.train_end`` (epoch
selected on validation windows), for each seed. Two things are then measured on the
validation period only, so that choosing a configuration here leaks nothing about the
held-out test period:

1. **Unconditional sets**: 100 paths conditioned on every 20th validation day, compared
   with the validation days by
   :func:`diffrisk.evaluation.paths.suite.validate_scenarios`, next to the multivariate
   normal and the filtered block bootstrap generators run from the same dates
   (the headline distances of issue 6: ``corr_frobenius``, ``tail_dep_q05``,
   ``acf_abs_distance``; lower is better), plus the 5 % VaR and ES of the equal-weighted
   portfolio's H-day log return (``port_var05``, ``port_es05``; the ``realised`` rows hold
   those of the overlapping validation windows).
2. **Steering**: four requests (volatility x2, a -15 % decline, a 2008-like and a COVID-like
   signature with its volatility capped inside the training range) from the last
   conditioning date of the validation period, with guidance w = 1 and with the calibrated
   weight (:func:`diffrisk.stress.scenario_sets.calibrate_guidance`); reported as the median
   relative error of the achieved mean signature and the number of components within 10 %.

Writes ``reports/tables/stress_ablation.csv`` and ``.md`` (one row per configuration, seed
and generator).

Usage::

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE python benchmarks/ablation_stress.py \\
        --configs previous history_stats amplitude default --seeds 20250515 1
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from typing import Any

from diffrisk.core import io, paths
from diffrisk.data.returns import load_returns
from diffrisk.data.splits import Splits

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from diffrisk import stress  # noqa: E402
from diffrisk.data.returns import constituent_returns  # noqa: E402
from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.regimes import fit_regime_thresholds
from diffrisk.evaluation.paths.suite import summary_scores, validate_scenarios
from diffrisk.risk.portfolio import risk_summary  # noqa: E402

logger = logging.getLogger("ablation_stress")

#: configuration name -> overrides of params.yaml's stress.model
CONFIGS: dict[str, dict[str, Any]] = {
    "previous": {"history_stats": False, "amplitude_embedding": False, "p_uncond": 0.2},
    "history_stats": {"amplitude_embedding": False, "p_uncond": 0.2},
    "amplitude": {"p_uncond": 0.2},
    "default": {},
    "pacf1": {"pacf_weight": 1.0},  # the stress paper's PACF penalty, two weights
    "pacf10": {"pacf_weight": 10.0},
    "p_uncond_0.7": {"p_uncond": 0.7},
    "batch_64": {"batch_size": 64},
    "wide": {"width": 64, "emb_dim": 96, "n_blocks": 6, "batch_size": 128},
    # EDM (Karras et al. 2022): log-normal noise levels, and sigma_data = the std of the
    # scaled training windows (stress.model.scaled_target_std on the windows ending by
    # data.train_end: 1.000, as target_scale is their pooled std), and both
    "edm_noise": {"noise_levels": "lognormal"},
    "edm_sigma": {"sigma_data": 1.0},
    "edm": {"noise_levels": "lognormal", "sigma_data": 1.0},
    "attn1": {"asset_attention": 1},  # attention across assets (issue 19), one and two layers
    "attn2": {"asset_attention": 2},
}

#: steering requests (the COVID-like volatility is capped inside the training range)
REQUESTS: dict[str, dict[str, float]] = {
    "volatility_x2": {"vol_ratio": 2.0},
    "decline_15pct": {"cum_return": -0.1625},
    "gfc_2008_like": {"vol_ratio": 2.899, "cum_return": -0.297, "avg_corr": 0.6305},
    "covid_like_in_range": {"cum_return": -0.25, "avg_corr": 0.7675},
}

HEADLINE = ("corr_frobenius", "tail_dep_q05", "tail_dep_q01", "acf_abs_distance", "ks_mean")


def horizon_risk(paths_: np.ndarray) -> dict[str, float]:
    """5 % VaR and ES (returns) of the equal-weighted portfolio's H-day log return."""
    n_assets = paths_.shape[2]
    row = risk_summary(paths_, {"ew": np.full(n_assets, 1.0 / n_assets)}, [0.05]).iloc[0]
    return {"port_var05": float(row["var"]), "port_es05": float(row["es"])}


def steering_errors(
    model: stress.StressModel, returns: pd.DataFrame, as_of: str, guidance: float | str, seed: int
) -> tuple[list[float], list[float]]:
    """Relative errors of every requested component, and the guidance weight per request."""
    errors, weights = [], []
    for i, request in enumerate(REQUESTS.values()):
        arch = stress.Archetype(f"r{i}", request)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", stress.StressRangeWarning)
            paths_, meta = stress.generate_scenario_set(
                model, returns, arch, [as_of], 1000, guidance=guidance, seed=seed + i, n_steps=20
            )
        achieved = stress.achieved_signatures(paths_, meta).mean()
        errors += [abs(achieved[c] / v - 1.0) for c, v in request.items()]
        weights.append(float(meta["generation"]["guidance"]))
    return errors, weights


def run_config(
    name: str, seed: int, returns: pd.DataFrame, splits: Any, model_params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Train one configuration with one seed and score it on the validation period."""
    config = stress.StressConfig.from_dict({**model_params, **CONFIGS[name]})
    visible = returns.loc[returns.index <= splits.val_end]
    tic = time.perf_counter()
    model = stress.train_stress_model(visible, splits.fit_dates, config, seed=seed)
    fit_s = time.perf_counter() - tic
    val = visible.loc[visible.index >= splits.val_start]
    dates = [str(d.date()) for d in val.index[: -config.horizon : 20]]
    thresholds = fit_regime_thresholds(visible.loc[visible.index <= splits.train_end])
    sets = {
        "diffusion": stress.generate_paths(
            model, visible, dates, 100, None, guidance=0.0, seed=seed, n_steps=20
        )[0]
    }
    for kind in ("normal", "bootstrap"):
        sets[kind] = stress.baseline_scenario_set(
            kind, visible, splits.train_end, dates, 100, config.horizon, seed=seed
        )[0]
    as_of = str(val.index[-config.horizon].date())
    err_w1, _ = steering_errors(model, visible, as_of, 1.0, seed)
    err_auto, weights = steering_errors(model, visible, as_of, "auto", seed)
    best = min(model.history, key=lambda h: h["val_loss"])
    realised = horizon_risk(historical_paths(val, config.horizon))
    rows = [{"config": name, "seed": seed, "generator": "realised", **realised}]
    for gen, paths_ in sets.items():
        scores = summary_scores(validate_scenarios(paths_, val, thresholds)).iloc[0]
        row = {"config": name, "seed": seed, "generator": gen}
        row |= {m: float(scores[m]) for m in HEADLINE} | horizon_risk(paths_)
        if gen == "diffusion":
            row |= {
                "best_epoch": int(best["epoch"]),
                "val_loss": float(best["val_loss"]),
                "fit_s": round(fit_s, 1),
                "steer_median_err_w1": float(np.median(err_w1)),
                "steer_within10_w1": int(sum(e <= 0.1 for e in err_w1)),
                "steer_median_err_auto": float(np.median(err_auto)),
                "steer_within10_auto": int(sum(e <= 0.1 for e in err_auto)),
                "steer_components": len(err_auto),
                "auto_weights": " ".join(f"{w:g}" for w in weights),
            }
        rows.append(row)
        logger.info("%s seed %d %s: %s", name, seed, gen, {m: round(row[m], 4) for m in HEADLINE})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs", nargs="+", default=["previous", "history_stats", "amplitude", "default"]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[20250515])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="stress_ablation", help="table stem in reports/tables")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("diffrisk").setLevel(logging.WARNING)
    unknown = sorted(set(args.configs) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown configs {unknown}; choose from {sorted(CONFIGS)}")
    torch.set_num_threads(args.threads)
    params = yaml.safe_load((paths.project_root() / "params.yaml").read_text())
    splits = Splits.from_mapping(params["data"])
    returns = constituent_returns(load_returns(), params["data"]["index_name"])
    rows = []
    for name in args.configs:
        for seed in args.seeds:
            rows += run_config(name, seed, returns, splits, dict(params["stress"]["model"]))
    table = pd.DataFrame(rows)
    io.write_csv(paths.tables_dir() / f"{args.out}.csv", table, index=False)
    io.write_text(
        paths.tables_dir() / f"{args.out}.md", table.to_markdown(index=False, floatfmt=".4g") + "\n"
    )
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
