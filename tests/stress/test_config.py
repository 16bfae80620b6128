"""Tests of diffrisk.stress.config: StressConfig validation."""

from __future__ import annotations

import pytest

from diffrisk.stress.config import StressConfig, parse_segments


def test_config_errors():
    with pytest.raises(ValueError, match="horizon must be >= 2"):
        StressConfig(horizon=1, pacf_lags=1)
    with pytest.raises(ValueError, match="p_uncond must be in"):
        StressConfig(p_uncond=1.0)
    with pytest.raises(ValueError, match="pacf_lags must be < horizon"):
        StressConfig(horizon=5, pacf_lags=5)
    with pytest.raises(ValueError, match="unknown stress.model parameters"):
        StressConfig.from_dict({"widht": 3})


def test_stratify_option_is_checked_and_off_by_default():
    assert StressConfig().stratify == "none"
    assert StressConfig(stratify="segment", segments="a=A0").stratify == "segment"
    with pytest.raises(ValueError, match=r"stratify must be one of \('none', 'segment'\)"):
        StressConfig(stratify="sector")
    old = {k: v for k, v in StressConfig().to_dict().items() if k not in ("stratify", "segments")}
    assert StressConfig.from_dict(old) == StressConfig()  # checkpoints without the fields


def test_parse_segments_partitions_the_constituents():
    assets = ["AAPL", "JPM", "MSFT", "XOM", "KO"]
    got = parse_segments("tech = MSFT, AAPL; banks=JPM", assets)
    assert got == {"tech": ["AAPL", "MSFT"], "banks": ["JPM"], "other": ["XOM", "KO"]}
    assert parse_segments("", assets) == {a: [a] for a in assets}
    assert parse_segments(" ", ["A"]) == {"A": ["A"]}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tech=AAPL,NVDA", r"tickers \['NVDA'\] that are not among the constituents"),
        ("tech=AAPL; tech=JPM", "segment 'tech' is defined twice"),
        ("tech=AAPL; more=AAPL", r"\['AAPL'\] of segment 'more' already belong to segment 'tech'"),
        ("tech", "expected name=TICKER,TICKER"),
        ("tech=", "expected name=TICKER,TICKER"),
        ("other=AAPL", "the name 'other' for them is taken"),
    ],
)
def test_parse_segments_errors_name_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_segments(spec, ["AAPL", "JPM"])
