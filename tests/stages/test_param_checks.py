"""Parameters naming tickers or windows are checked against the data up front."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from skfolio.datasets import load_factors_dataset

from diffrisk.data.prices import DataError
from diffrisk.data.splits import Splits
from diffrisk.stages import data as data_stage
from diffrisk.stages.param_checks import check_data_params
from diffrisk.stages.params import stage_params
from tests.conftest import ROOT

DATES = pd.bdate_range("2012-01-03", "2018-06-29")
SPLITS = Splits.from_params("2016-12-31", "2017-01-01", "2017-12-31", "2018-01-01", None, None)
TICKERS = ["AAPL", "JPM", "XOM"]


def defaults() -> dict:
    """The data stage's declared parameters from the project's params.yaml."""
    return stage_params("data", ROOT / "params.yaml", ROOT / "dvc.yaml")


def test_default_sp500_keys_all_listed_on_a_three_ticker_file():
    problems = check_data_params(defaults(), TICKERS, DATES, SPLITS, raise_error=False)
    keys = [p.split(":")[0].split(" (")[0] for p in problems]
    assert set(keys) == {
        "stress.validate.portfolios",  # BAC, CVX, RRC
        "stress.audit.portfolios",
        "stress.segments.sectors",
        "stress.validate.crisis_windows",  # 2008 and 2020 outside 2012-2018
        "stress.generate.archetypes",
        "coverage.crash_start/crash_end",  # 2020 outside the test period
        "stress.reverse.periods",  # 2020 and 2022 outside the test period
    }
    assert sum(k == "stress.validate.crisis_windows" for k in keys) == 2
    # every bad portfolio of a key, not only the first
    for key in ("stress.validate.portfolios", "stress.audit.portfolios"):
        assert [p.split(": ", 1)[1].split(":")[0] for p in problems if p.startswith(key)] == [
            "portfolio 'financials'",
            "portfolio 'energy'",
        ]
    sectors = next(p for p in problems if p.startswith("stress.segments.sectors"))
    for ticker in ("AMD", "BAC", "LLY", "MSFT"):
        assert ticker in sectors


def test_keys_set_for_the_data_pass():
    smoke = yaml.safe_load((ROOT / "tests" / "smoke_params.yaml").read_text())
    params = {"stress": smoke["stress"], "coverage": smoke["coverage"]}
    assert check_data_params(params, TICKERS, DATES, SPLITS, raise_error=False) == []
    check_data_params(params, TICKERS, DATES, SPLITS)  # no error


def test_audit_archetype_must_be_generated_and_dates_in_data():
    params = {
        "stress": {
            "generate": {"archetypes": "unconditional; x2: vol_ratio=2", "as_of": "2030-01-02"},
            "audit": {"archetypes": "x2, gfc_2008_like"},
        }
    }
    problems = check_data_params(params, TICKERS, DATES, SPLITS, raise_error=False)
    assert problems[0].startswith("stress.generate.as_of: 2030-01-02 is outside the data")
    assert "['gfc_2008_like'] are not archetypes" in problems[1]
    assert len(problems) == 2


def test_archetype_syntax_errors_are_named_by_the_data_stage():
    """stress_generate's own parser, run up front: a typo stops the run in seconds."""
    for spec, message in [
        ("unconditional; d: cum_return=q1.5", "the quantile's probability must lie in [0, 1]"),
        ("d: vol=2", "unknown key 'vol'"),
        ("d: window=2010-01-01/2009-01-01", "must start before it ends"),
    ]:
        params = {"stress": {"generate": {"archetypes": spec}, "audit": {"archetypes": "d"}}}
        problems = check_data_params(params, TICKERS, DATES, SPLITS, raise_error=False)
        assert len(problems) == 1 and problems[0].startswith("stress.generate.archetypes: ")
        assert message in problems[0]


def test_the_error_lists_every_key_at_once():
    with pytest.raises(DataError, match=r"^11 problem\(s\) with parameters") as err:
        check_data_params(defaults(), TICKERS, DATES, SPLITS)
    # one line per problem: seven keys, two windows each for crisis_windows and archetypes,
    # two portfolios each for the two portfolio keys
    assert str(err.value).count("\n  ") == 11


def test_reverse_periods_must_hold_a_window_of_the_test_period():
    """Named periods outside the test period are refused; 'yearly' always fits."""
    stress = {"model": {"horizon": 20}}
    outside = {"reverse": {"periods": "a=2019-01-01/2019-12-31; b=2017-01-01/2017-12-31"}}
    problems = check_data_params(
        {"stress": stress | outside}, TICKERS, DATES, SPLITS, raise_error=False
    )
    assert problems == [
        "stress.reverse.periods: no period holds a 20-day window of the test period "
        "(2018-01-01 … 2018-06-29); name periods inside it or use 'yearly'"
    ]
    # one usable period is enough (the others are reported as skipped by the stage)
    some = {"reverse": {"periods": "a=2018-01-01/2018-03-30; b=2019-01-01/2019-12-31"}}
    assert (
        check_data_params({"stress": stress | some}, TICKERS, DATES, SPLITS, raise_error=False)
        == []
    )
    yearly = {"reverse": {"periods": "yearly"}}
    assert (
        check_data_params({"stress": stress | yearly}, TICKERS, DATES, SPLITS, raise_error=False)
        == []
    )
    # a period of 10 test rows is shorter than the horizon
    short = {"reverse": {"periods": "a=2018-06-18/2018-06-29"}}
    assert (
        "no period holds a 20-day window"
        in check_data_params({"stress": stress | short}, TICKERS, DATES, SPLITS, raise_error=False)[
            0
        ]
    )
    bad = {"reverse": {"periods": "oops"}}
    assert check_data_params(
        {"stress": stress | bad}, TICKERS, DATES, SPLITS, raise_error=False
    ) == [
        "stress.reverse.periods entry 'oops': expected name=start/end (or the whole value 'yearly')"
    ]


def test_data_stage_refuses_sp500_keys_on_own_csv_before_writing(project_tmp):
    params = defaults()
    params["data"].update(
        source="csv",
        csv_path=str(ROOT / "examples" / "prices_3tickers_dayfirst.csv"),
        index_column="SPX",
        index_name="spx",
        series="portfolio,spx",
        train_end="2016-12-31",
        val_start="2017-01-01",
        val_end="2017-12-31",
        select_end="2017-06-30",
        test_start="2018-01-01",
    )
    with pytest.raises(DataError, match=r"stress.validate.portfolios: portfolio 'financials'"):
        data_stage.run(**params)
    assert not (project_tmp / "data").exists()


def test_default_keys_fit_the_default_data():
    from diffrisk.data.prices import load_skfolio_prices

    params = defaults()
    d = params["data"]
    splits = Splits.from_params(
        d["train_end"], d["val_start"], d["val_end"], d["test_start"], None, d["select_end"]
    )
    prices, _ = load_skfolio_prices()
    returns = np.log(prices).diff().iloc[1:]
    problems = check_data_params(
        params, list(prices.columns), returns.index, splits, raise_error=False, returns=returns
    )
    assert problems == []  # the audited archetypes included: inside the training range


def test_an_audited_archetype_outside_the_training_range_is_named_up_front():
    """A user's data: skfolio's five factor ETFs (2014-2022, offline), trained to 2018 with
    10-day paths. A 16.25 % fall in 10 days never happened in training, so the audit would
    refuse ``decline_15pct`` after the one-day study and the stress training have run; the
    data stage names it at once, with the range the stress model itself records."""
    from diffrisk.stress.archetypes import parse_archetypes, resolve_archetype
    from diffrisk.stress.config import StressConfig
    from diffrisk.stress.model import fit_training_statistics
    from diffrisk.stress.signatures import range_detail

    prices = load_factors_dataset()
    returns = np.log(prices).diff().iloc[1:]
    splits = Splits.from_params("2018-12-31", "2019-01-01", "2019-12-31", "2020-01-01")
    spec = (
        "volatility_x2: vol_ratio=2.0; decline_15pct: cum_return=-0.1625; "
        "q4_2018_like: window=2018-10-01/2018-12-31; decline_q01: cum_return=q0.01"
    )
    model = {"horizon": 10, "ewma_lambda": 0.94, "ewma_warmup": 30}
    params = {
        "stress": {
            "model": model,
            "generate": {"archetypes": spec},
            "audit": {"archetypes": "volatility_x2, decline_15pct, q4_2018_like, decline_q01"},
        }
    }
    problems = check_data_params(
        params, list(prices.columns), returns.index, splits, raise_error=False, returns=returns
    )
    # the bounds the stress model records when it is fitted on the same data
    config = StressConfig(horizon=10, history=20)
    fitted, _, _ = fit_training_statistics(returns, splits.fit_dates, config)
    decline = {"cum_return": -0.1625}
    assert problems == [
        f"stress.audit.archetypes (decline_15pct): "
        f"{range_detail(decline, fitted.signature_bounds, prefix='signature.')}, the range of "
        "the 10-day windows up to data.train_end; the audit refuses requests outside it: "
        "audit archetypes inside it"
    ]
    assert fitted.signature_bounds.loc["lower", "cum_return"] > -0.1625
    # the window archetype lies in training, so in range (as stress_generate resolves it)
    q4 = resolve_archetype(parse_archetypes(spec)[2], returns, 10)
    assert range_detail(q4.signature, fitted.signature_bounds) == ""
    # a decline relative to the data travels: the training windows' 1 % quantile
    relative = resolve_archetype(parse_archetypes(spec)[3], returns, 10, train_end="2018-12-31")
    low, high = fitted.signature_bounds["cum_return"]
    assert low < relative.signature["cum_return"] < -0.05 < high
    # one constituent: no stress study, so no check (a one-column file runs the one-day part)
    one = returns[["MTUM"]]
    assert (
        check_data_params(params, ["MTUM"], one.index, splits, raise_error=False, returns=one) == []
    )
    # without the returns (or the model keys) the check is not made
    assert (
        check_data_params(params, list(prices.columns), returns.index, splits, raise_error=False)
        == []
    )


def test_series_keys_checked_against_the_returns():
    params = {"tune": {"overrides": {"val_series": ["portfolio", "sp500"]}}, "ddpm": {}}
    params["ddpm"] = {"val_series": None, "train_series": "portfolio,AAPL,MSFT"}
    series = ["portfolio", "spx", *TICKERS]
    problems = check_data_params(params, TICKERS, DATES, SPLITS, series, raise_error=False)
    assert problems == [
        f"tune.overrides.val_series: parameter tune.overrides.val_series names unknown "
        f"series ['sp500']; available: {series}",
        f"ddpm.train_series: parameter ddpm.train_series names unknown series ['MSFT']; "
        f"available: {series}",
    ]


def test_the_factor_etf_example_keys_fit_its_file(project_tmp):
    """examples/factor_etfs_params.yaml on examples/prices_factor_etfs.csv: the data stage
    passes every check (the audited archetypes inside the training range included)."""
    from tests.test_pipeline_smoke import deep_merge

    overlay = yaml.safe_load((ROOT / "examples" / "factor_etfs_params.yaml").read_text())
    params = deep_merge(defaults(), overlay)
    params["data"]["csv_path"] = str(ROOT / params["data"]["csv_path"])
    result = data_stage.run(**params)
    assert list(result["returns"].columns) == ["portfolio", "MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
    assert str(result["returns"].index[-1].date()) == "2022-12-28"
    # the example's warning holds: decline_15pct would be refused by the audit
    params["stress"]["audit"]["archetypes"] = "volatility_x2, decline_15pct"
    with pytest.raises(DataError, match=r"stress.audit.archetypes \(decline_15pct\)"):
        data_stage.run(**params)
