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


def test_edm_options_defaults_and_checks():
    cfg = StressConfig()  # lognormal noise levels: adopted on validation (docs/stress-study.md)
    assert (cfg.noise_levels, cfg.noise_p_mean, cfg.noise_p_std, cfg.sigma_data) == (
        "lognormal",
        -1.2,
        1.2,
        1.0,
    )
    assert StressConfig(noise_levels="lognormal", sigma_data=0.5).sigma_data == 0.5
    with pytest.raises(ValueError, match=r"noise_levels must be one of \('uniform', 'lognormal'\)"):
        StressConfig(noise_levels="edm")
    for name, bad in [("noise_p_std", 0.0), ("sigma_data", -1.0), ("sigma_data", float("nan"))]:
        with pytest.raises(ValueError, match=f"StressConfig.{name} must be finite and > 0"):
            StressConfig(**{name: bad})
    with pytest.raises(ValueError, match="StressConfig.noise_p_mean must be finite"):
        StressConfig(noise_p_mean=float("inf"))
    new = ("noise_levels", "noise_p_mean", "noise_p_std", "sigma_data")
    old = {k: v for k, v in cfg.to_dict().items() if k not in new}
    assert StressConfig.from_dict(old) == cfg  # checkpoints without the fields


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


#: The keys of ``StressConfig.to_dict()`` in order: checkpoints and audit records hold them.
RECORD_KEYS = """
    horizon history width n_blocks history_width history_blocks emb_dim schedule
    diffusion_steps p_uncond p_drop_component pacf_weight pacf_lags history_clip
    history_stats amplitude_embedding ewma_lambda ewma_warmup lr weight_decay batch_size
    max_epochs patience min_epochs grad_clip ema_decay samples_per_epoch threads stratify
    segments noise_levels noise_p_mean noise_p_std sigma_data
    asset_attention attention_dim attention_heads
""".split()


def test_record_keys_and_their_order_are_pinned():
    assert list(StressConfig().to_dict()) == RECORD_KEYS
    assert list(StressConfig.smoke().to_dict()) == RECORD_KEYS
