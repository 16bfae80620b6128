"""Tests of diffrisk.data.spikes: isolated price spikes."""

from __future__ import annotations

import numpy as np
import pytest

from diffrisk.data.spikes import detect_spikes, fix_spikes

# ------------------------------------------------------------------ spikes


def test_spike_detector_finds_isolated_reversal_not_crash(price_frame):
    prices = price_frame.copy()
    prices.iloc[500, 0] *= 1.5  # data error: +50% for one day, then back
    prices.iloc[600:, 1] *= 0.7  # genuine crash: -30% that stays
    prices.iloc[700:, :] *= 0.85  # market-wide crash day
    spikes = detect_spikes(prices, threshold=8.0)
    assert list(spikes["ticker"]) == ["AAA"]
    assert spikes["date"].iloc[0] == prices.index[500]
    fixed = fix_spikes(prices, spikes)
    assert fixed.iloc[500, 0] == pytest.approx(np.sqrt(prices.iloc[499, 0] * prices.iloc[501, 0]))
    assert fixed.iloc[600, 1] == prices.iloc[600, 1]  # crash untouched
