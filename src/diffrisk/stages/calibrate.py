"""Stage ``calibrate``.

Adaptive calibration (:mod:`diffrisk.baselines.calibration`) of every listed method and
forecast combinations (:mod:`diffrisk.baselines.combination`), as new candidate methods
that the ``coverage`` stage tests like any other:

* ``<method>_aci``: the method's VaR/ES times an online multiplier driven by its own past
  exceptions (no scenario file: the Acerbi–Szekely test uses its parametric null).
* ``<first>_mix_<second>``: quantile/ES averaging of two methods.

Step sizes γ (one per α) and weights w are chosen on the VALIDATION period by the rules
written in those modules' docstrings. The validation forecasts are made here, for the
baselines of ``calibrate.val_methods`` on the headline series (the test-period files
hold the test period only; the ``select`` stage keeps its DDPM rehearsal forecasts in
memory). One γ per α, chosen on the pooled validation forecasts, is applied to every
method (equal terms). A combination whose two members both have validation forecasts
gets its weight chosen there; otherwise the fallback weight fixed in ``params.yaml``.

Writes ``data/forecasts/<name>.parquet`` (+ ``.audit.json``) per output method,
``reports/tables/calibration.{csv,md}`` (every candidate γ and w with its validation
scores and whether it was chosen; method ``all_aci`` holds the γ shared by every
``*_aci``) and ``data/backtests/calibration.parquet`` (full precision).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from diffrisk.baselines.calibration import aci_wrap, select_gamma
from diffrisk.baselines.combination import (
    combination_name,
    combine_forecasts,
    parse_pairs,
    select_weight,
)
from diffrisk.baselines.registry import BASELINE_METHODS
from diffrisk.core import audit, io, paths
from diffrisk.core.params import parse_list
from diffrisk.core.tables import write_table
from diffrisk.data.returns import check_series, load_returns
from diffrisk.data.splits import Splits
from diffrisk.forecasts.contract import ALPHAS
from diffrisk.forecasts.store import load_forecasts, save_forecasts
from diffrisk.stages.baseline_settings import period_baselines

logger = logging.getLogger(__name__)

#: Suffix of an adaptively calibrated method's name.
ACI_SUFFIX = "_aci"


def output_methods(methods: str | Sequence[str], combine: str | Sequence[str]) -> list[str]:
    """The method names the stage writes (``<m>_aci`` then ``<a>_mix_<b>``)."""
    return [m + ACI_SUFFIX for m in parse_list(methods)] + [
        combination_name(a, b) for a, b in parse_pairs(combine)
    ]


def validation_forecasts(
    val_methods: Sequence[str],
    baselines: Mapping[str, Any],
    n_scenarios: int,
    heads: Sequence[str],
    splits: Splits,
    seed: int,
) -> dict[str, pd.DataFrame]:
    """Baseline forecasts of the headline series on every validation day (data ≤ t − 1)."""
    if not val_methods:
        return {}
    unknown = [m for m in val_methods if m not in BASELINE_METHODS]
    if unknown:
        raise ValueError(
            f"calibrate.val_methods names {unknown}, not baselines; choose among "
            f"{list(BASELINE_METHODS)}"
        )
    returns = load_returns()
    dates = splits.dates(returns, "validation")
    results = period_baselines(returns, dates, val_methods, baselines, n_scenarios, seed, heads)
    return {m: frame for m, (frame, _) in results.items()}


def calibrate_methods(
    *,
    methods: str | Sequence[str],
    combine: str | Sequence[str],
    val_methods: str | Sequence[str],
    gamma_grid: str | Sequence[float],
    fallback_gamma: float,
    weight_grid: str | Sequence[float],
    fallback_weight: float,
    baselines: Mapping[str, Any],
    n_scenarios: int,
    headline: str | Sequence[str],
    splits: Splits,
    seed: int,
) -> dict[str, Any]:
    """Run the ``calibrate`` stage.

    Parameters
    ----------
    methods : str or sequence of str
        Methods wrapped by adaptive calibration (their test forecast files must exist).
    combine : str or sequence of str
        Pairs ``first:second`` to combine (comma-separated; "" = none).
    val_methods : str or sequence of str
        Baselines forecast on the validation period to choose γ (and w); "" = none,
        then ``fallback_gamma`` / ``fallback_weight``.
    gamma_grid, weight_grid : str or sequence of float
        Candidate step sizes and weights (comma-separated).
    fallback_gamma, fallback_weight : float
        The values fixed in advance, used without validation forecasts.
    baselines : mapping
        The ``baselines`` section (settings and ``workers`` of the validation baseline
        forecasts, :func:`~diffrisk.stages.baseline_settings.period_baselines`).
    n_scenarios : int
        Scenarios of ``mc_normal``/``garch_t`` validation forecasts.
    headline : str or sequence of str
        Headline series (``data.series``): the series of the validation forecasts.
    splits : Splits
        The study's periods.
    seed : int

    Returns
    -------
    dict
        ``table`` (the chosen values and validation scores), ``gammas`` (α → γ),
        ``weights`` ({name: {α: w}}) and ``forecasts`` ({name: frame}).
    """
    names, pairs, vals = parse_list(methods), parse_pairs(combine), parse_list(val_methods)
    gammas_in = [float(g) for g in parse_list(gamma_grid)]
    weights_in = [float(w) for w in parse_list(weight_grid)]
    returns = load_returns()
    heads = check_series(parse_list(headline), returns, "data.series")
    val = validation_forecasts(vals, baselines, int(n_scenarios), heads, splits, int(seed))
    source = "validation" if val else "fallback"
    rows: list[pd.DataFrame] = []
    gammas: dict[float, float] = {}
    for alpha in ALPHAS:
        gammas[alpha], scores = select_gamma(list(val.values()), alpha, gammas_in, fallback_gamma)
        if scores.empty:
            scores = pd.DataFrame({"gamma": [gammas[alpha]], "chosen": [True]})
        rows.append(
            scores.rename(columns={"gamma": "value"}).assign(
                method="all" + ACI_SUFFIX, parameter="gamma", alpha=alpha, source=source
            )
        )
    out: dict[str, pd.DataFrame] = {}
    data_hash = audit.recorded_data_hash()
    for name in names:
        wrapped, _ = aci_wrap(load_forecasts(name), gammas)
        out[name + ACI_SUFFIX] = wrapped
        record = {
            "method": name + ACI_SUFFIX,
            "wraps": name,
            "gamma": {str(a): g for a, g in gammas.items()},
        }
        save_forecasts(
            name + ACI_SUFFIX, wrapped, provenance=audit.provenance(record, seed, data_hash)
        )
    weights: dict[str, dict[float, float]] = {}
    for first, second in pairs:
        name, per_alpha = combination_name(first, second), {}
        have = first in val and second in val
        for alpha in ALPHAS:
            per_alpha[alpha], scores = select_weight(
                val.get(first) if have else None,
                val.get(second) if have else None,
                alpha,
                weights_in,
                fallback_weight,
            )
            if scores.empty:
                scores = pd.DataFrame({"weight": [per_alpha[alpha]], "chosen": [True]})
            rows.append(
                scores.rename(columns={"weight": "value"}).assign(
                    method=name,
                    parameter="weight",
                    alpha=alpha,
                    source="validation" if have else "fallback",
                )
            )
        frame = combine_forecasts(
            load_forecasts(first), load_forecasts(second), per_alpha, names=(first, second)
        )
        weights[name], out[name] = per_alpha, frame
        record = {
            "method": name,
            "members": [first, second],
            "weight_of_first": {str(a): w for a, w in per_alpha.items()},
        }
        save_forecasts(name, frame, provenance=audit.provenance(record, seed, data_hash))
    table = pd.concat(rows, ignore_index=True).reindex(
        columns=[
            "method",
            "parameter",
            "alpha",
            "value",
            "source",
            "fz0",
            "exception_rate",
            "n",
            "chosen",
        ]
    )
    write_table(table, "calibration", paths.tables_dir())
    io.write_parquet(paths.backtests_dir() / "calibration.parquet", table)
    logger.info("calibrate stage: gamma %s, %d methods written", gammas, len(out))
    return {"table": table, "gammas": gammas, "weights": weights, "forecasts": out}


def run(
    *,
    seed: int,
    n_scenarios: int,
    calibrate: Mapping[str, Any],
    baselines: Mapping[str, Any],
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """Stage ``calibrate``: :func:`calibrate_methods` with its ``dvc.yaml`` parameters."""
    return calibrate_methods(
        **calibrate,
        baselines=baselines,
        n_scenarios=n_scenarios,
        headline=data["series"],
        splits=Splits.from_mapping(data),
        seed=seed,
    )
