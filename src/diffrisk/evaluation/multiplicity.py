"""Family-wise honesty for the headline: chance failures and Holm-adjusted verdicts.

The headline runs a battery of tests on every method — Kupiec, Christoffersen conditional
coverage and Acerbi–Szekely Z2 per series and α, and the PIT Kolmogorov–Smirnov test per
series. Even a correct model fails some of them at the 5 % level by chance: with ``m``
tests, ``0.05 m`` on average. :func:`chance_failures` states that number and a binomial
range; :func:`holm_table` adjusts each method's p-values for the whole family (Holm's
step-down procedure, :func:`statsmodels.stats.multitest.multipletests`), and
:func:`family_summary` gives the per-method verdict.

The family is one method's battery: "is this method's forecast correct?" is one
hypothesis tested many times, so the family-wise error rate is controlled per method.
Holm is valid under any dependence between the tests (Kupiec and Christoffersen-cc share
the same exceptions); the binomial range of :func:`chance_failures` assumes independent
tests and is therefore only a guide to how many raw rejections are unremarkable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

#: The battery's tests: name -> headline column of the p-value.
BATTERY: dict[str, str] = {
    "kupiec": "kupiec_p",
    "christoffersen_cc": "christoffersen_cc_p",
    "acerbi_szekely": "as_z2_p",
    "pit_ks": "pit_ks_p",
}

#: Tests with one p-value per (series, method), repeated in every alpha's headline row:
#: counted once.
PER_SERIES_TESTS: frozenset[str] = frozenset({"pit_ks"})

#: Columns of :func:`holm_table`.
HOLM_COLUMNS: tuple[str, ...] = (
    "method",
    "series",
    "alpha",
    "test",
    "p",
    "p_holm",
    "reject_raw",
    "reject_holm",
)

#: Columns of :func:`family_summary`.
FAMILY_COLUMNS: tuple[str, ...] = (
    "method",
    "n_tests",
    "n_rejected_raw",
    "expected_by_chance",
    "chance_low",
    "chance_high",
    "n_rejected_holm",
    "rejected_holm",
)


def _check_level(level: float, name: str = "level") -> float:
    value = float(level)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {level!r}")
    return value


def chance_failures(n_tests: int, level: float = 0.05, coverage: float = 0.95) -> dict[str, float]:
    """How many of ``n_tests`` tests a correct model fails at ``level`` by chance.

    Parameters
    ----------
    n_tests : int
        Tests counted (>= 0).
    level : float, default 0.05
        Size of each test.
    coverage : float, default 0.95
        Probability of the central range.

    Returns
    -------
    dict
        ``expected`` (``level * n_tests``) and the central ``coverage`` range ``low``,
        ``high`` of Binomial(``n_tests``, ``level``) (:func:`scipy.stats.binom.interval`),
        the law of the number of rejections under independent tests.

    Examples
    --------
    >>> chance_failures(20)
    {'expected': 1.0, 'low': 0.0, 'high': 3.0}
    """
    n = int(n_tests)
    if n < 0:
        raise ValueError(f"n_tests must be >= 0, got {n_tests!r}")
    alpha = _check_level(level)
    low, high = stats.binom.interval(_check_level(coverage, "coverage"), n, alpha)
    return {"expected": alpha * n, "low": float(low), "high": float(high)}


def battery_pvalues(headline: pd.DataFrame, tests: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The battery's p-values in long form, each test counted once.

    Parameters
    ----------
    headline : DataFrame
        :func:`diffrisk.evaluation.headline.headline_table` output (any methods).
    tests : mapping, optional
        Test name -> headline column (default :data:`BATTERY`); columns missing from
        ``headline`` are skipped.

    Returns
    -------
    DataFrame
        ``method, series, alpha, test, p``; NaN p-values (test not run) are dropped; a
        test of :data:`PER_SERIES_TESTS` appears once per (method, series) with ``alpha``
        NaN.
    """
    tests = BATTERY if tests is None else tests
    rows = []
    for rec in headline.to_dict("records"):
        for test, column in tests.items():
            if column not in headline.columns:
                continue
            rows.append(
                {
                    "method": rec["method"],
                    "series": rec["series"],
                    "alpha": math.nan if test in PER_SERIES_TESTS else float(rec["alpha"]),
                    "test": test,
                    "p": float(rec[column]),
                }
            )
    frame = pd.DataFrame(rows, columns=["method", "series", "alpha", "test", "p"])
    frame = frame.dropna(subset=["p"])
    once = frame["alpha"].isna()
    frame = pd.concat(
        [frame.loc[~once], frame.loc[once].drop_duplicates(["method", "series", "test"])]
    )
    return frame.sort_index(kind="stable").reset_index(drop=True)


def holm_table(
    headline: pd.DataFrame, level: float = 0.05, tests: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Holm-adjusted p-values of each method's battery (the family: one method).

    Parameters
    ----------
    headline : DataFrame
        :func:`diffrisk.evaluation.headline.headline_table` output.
    level : float, default 0.05
        Family-wise error rate.
    tests : mapping, optional
        As for :func:`battery_pvalues`.

    Returns
    -------
    DataFrame
        Columns :data:`HOLM_COLUMNS`: ``p_holm`` from
        ``multipletests(p, alpha=level, method="holm")`` over the method's tests,
        ``reject_raw`` is ``p < level`` and ``reject_holm`` Holm's step-down decision
        (the family-wise error rate is at most ``level`` under any dependence).
    """
    from statsmodels.stats.multitest import multipletests

    level = _check_level(level)
    long = battery_pvalues(headline, tests)
    parts = []
    for _, part in long.groupby("method", sort=False):
        reject, adjusted, _, _ = multipletests(part["p"].to_numpy(float), level, "holm")
        parts.append(
            part.assign(
                p_holm=adjusted,
                reject_raw=part["p"].to_numpy(float) < level,
                reject_holm=np.asarray(reject, dtype=bool),
            )
        )
    if not parts:
        return pd.DataFrame(columns=list(HOLM_COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(HOLM_COLUMNS)]


def _label(rec: Mapping[str, object]) -> str:
    alpha = float(rec["alpha"])  # type: ignore[arg-type]
    where = f"{rec['series']}" if math.isnan(alpha) else f"{rec['series']} {100 * alpha:g}%"
    return f"{rec['test']} ({where})"


def family_summary(
    headline: pd.DataFrame,
    level: float = 0.05,
    coverage: float = 0.95,
    tests: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Per method: raw rejections against the chance count, and the Holm verdict.

    Parameters
    ----------
    headline, level, tests
        As for :func:`holm_table`.
    coverage : float, default 0.95
        Of the chance range (:func:`chance_failures`).

    Returns
    -------
    DataFrame
        Columns :data:`FAMILY_COLUMNS`, one row per method in headline order:
        ``n_tests`` counted, ``n_rejected_raw`` (p < level), ``expected_by_chance`` =
        ``level * n_tests`` with the binomial range ``chance_low … chance_high``,
        ``n_rejected_holm`` and the labels of the tests Holm rejects (``test (series
        alpha)``, "; "-separated, "" when none).
    """
    table = holm_table(headline, level, tests)
    rows = []
    for method, part in table.groupby("method", sort=False):
        chance = chance_failures(len(part), level, coverage)
        rejected = [_label(r) for r in part.loc[part["reject_holm"]].to_dict("records")]
        rows.append(
            {
                "method": method,
                "n_tests": len(part),
                "n_rejected_raw": int(part["reject_raw"].sum()),
                "expected_by_chance": chance["expected"],
                "chance_low": chance["low"],
                "chance_high": chance["high"],
                "n_rejected_holm": len(rejected),
                "rejected_holm": "; ".join(rejected),
            }
        )
    return pd.DataFrame(rows, columns=list(FAMILY_COLUMNS))
