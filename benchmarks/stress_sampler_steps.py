"""Sampler settings of the trained stress generator, scored on the VALIDATION period.

Loads ``models/stress.pt`` (trained on windows ending by ``data.train_end``, epoch chosen on
validation windows) and draws the unconditional set (100 paths from every 20th validation
day) with each setting: DDIM steps and order, with and without the signature prior
(``prior_neighbours`` and its guidance weight). Prints the headline distances to the
validation days (:func:`diffrisk.evaluation.paths.suite.summary_scores`), the standard deviation of
the standardised H-day portfolio return ``cum_return / (portfolio_vol sqrt(H))`` (1 for a
calibrated set) and the 5 % VaR / ES of the equal-weighted portfolio's H-day log return
next to the realised ones. The test period is never read.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/stress_sampler_steps.py [--prior-only]
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import torch
import yaml

from diffrisk.core import paths
from diffrisk.core.paths import stress_checkpoint
from diffrisk.data.returns import constituent_returns, load_returns
from diffrisk.data.splits import Splits
from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.regimes import fit_regime_thresholds
from diffrisk.evaluation.paths.suite import summary_scores, validate_scenarios
from diffrisk.risk.portfolio import risk_summary
from diffrisk.stress.config import StressRangeWarning
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.sampling import generate_paths
from diffrisk.stress.signatures import stress_signature


def horizon_risk(paths_: np.ndarray) -> dict[str, float]:
    """5 % VaR and ES of the equal-weighted portfolio's H-day log return."""
    n_assets = paths_.shape[2]
    row = risk_summary(paths_, {"ew": np.full(n_assets, 1.0 / n_assets)}, [0.05]).iloc[0]
    return {"port_var05": float(row["var"]), "port_es05": float(row["es"])}


VARIANTS = (
    {"n_steps": 20},
    {"n_steps": 40},
    {"n_steps": 40, "order": 2},
    {"n_steps": 200},
    {"n_steps": 20, "prior_neighbours": 50, "guidance": 1.0},
    {"n_steps": 20, "prior_neighbours": 50, "guidance": 1.25},
    {"n_steps": 20, "prior_neighbours": 50, "guidance": 1.5},
    {"n_steps": 20, "prior_neighbours": 20, "guidance": 1.25},
    {"n_steps": 20, "prior_neighbours": 200, "guidance": 1.25},
)

#: ``--prior-only``: the signature prior's guidance weight alone (the default sampler)
PRIOR_WEIGHTS = tuple(
    {"n_steps": 20, "prior_neighbours": 50, "guidance": w} for w in (1.0, 1.25, 1.5, 1.75, 2.0)
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(stress_checkpoint()))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--prior-only", action="store_true", help="only the prior's guidance weights 1-2"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", StressRangeWarning)
    params = yaml.safe_load((paths.project_root() / "params.yaml").read_text())
    splits = Splits.from_mapping(params["data"])
    model = load_stress_model(args.checkpoint)
    returns = constituent_returns(load_returns(), params["data"]["index_name"])
    visible = returns.loc[returns.index <= splits.val_end]
    val = visible.loc[visible.index >= splits.val_start]
    h = model.config.horizon
    dates = [str(d.date()) for d in val.index[:-h:20]]
    thresholds = fit_regime_thresholds(visible.loc[visible.index <= splits.train_end])
    realised = horizon_risk(historical_paths(val, h))
    print(f"realised: VaR {realised['port_var05']:.4f} ES {realised['port_es05']:.4f}")
    for kw in PRIOR_WEIGHTS if args.prior_only else VARIANTS:
        settings = {"guidance": 0.0, **kw}
        set_, info = generate_paths(model, visible, dates, 100, None, seed=20250515, **settings)
        scores = summary_scores(validate_scenarios(set_, val, thresholds)).iloc[0]
        vol = np.repeat(info["portfolio_vol"].to_numpy(), 100)
        z = stress_signature(set_, vol)["cum_return"] / (vol * np.sqrt(h))
        risk = horizon_risk(set_)
        print(
            f"{json.dumps(kw):32s} corr {scores['corr_frobenius']:.3f} "
            f"td05 {scores['tail_dep_q05']:.4f} |r|acf {scores['acf_abs_distance']:.4f} "
            f"KS {scores['ks_mean']:.4f} | z-std {z.std():.3f} "
            f"VaR {risk['port_var05']:.4f} ES {risk['port_es05']:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
