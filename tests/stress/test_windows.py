"""Tests of diffrisk.stress.windows: conditioning inputs and training windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.stress.config import StressConfig
from diffrisk.stress.windows import balanced_index, segment_labels, training_windows
from tests.stress.conftest import TRAIN_END, VAL_END


def test_training_windows_end_on_or_before_train_end(returns):
    cfg = StressConfig.smoke()
    windows = training_windows(returns, None, TRAIN_END, cfg)
    last_row = returns.index.get_loc(windows.starts[-1]) + cfg.horizon - 1
    assert returns.index[last_row] <= pd.Timestamp(TRAIN_END)
    assert returns.index[last_row + 1] > pd.Timestamp(TRAIN_END)  # the last one that fits
    shocked = returns.copy()
    shocked.loc[shocked.index > TRAIN_END] *= 7.0
    again = training_windows(shocked, None, TRAIN_END, cfg)
    np.testing.assert_array_equal(windows.targets, again.targets)


def test_segment_labels_name_the_segment_with_the_worst_scaled_move(returns):
    cfg = StressConfig.smoke()
    windows = training_windows(returns, None, TRAIN_END, cfg)
    assets = list(returns.columns)
    segments = {"first": ["A0", "A1"], "last": ["A2", "A3"]}
    labels = segment_labels(windows, assets, segments)
    move = windows.targets.sum(axis=2)
    expected = (move[:, 2:].mean(axis=1) < move[:, :2].mean(axis=1)).astype(int)
    np.testing.assert_array_equal(labels, expected)
    assert set(np.unique(labels)) == {0, 1}
    # one segment per asset: the asset with the most negative scaled move
    per_asset = segment_labels(windows, assets, {a: [a] for a in assets})
    np.testing.assert_array_equal(per_asset, np.argmin(move, axis=1))


def test_segment_labels_ignore_returns_after_the_last_window(returns):
    cfg = StressConfig.smoke()
    segments = {"first": ["A0", "A1"], "last": ["A2", "A3"]}
    shocked = returns.copy()
    shocked.loc[shocked.index > VAL_END] *= -5.0
    a = segment_labels(training_windows(returns, None, TRAIN_END, cfg), list(returns), segments)
    b = segment_labels(training_windows(shocked, None, TRAIN_END, cfg), list(returns), segments)
    np.testing.assert_array_equal(a, b)


def test_segment_labels_errors(returns):
    windows = training_windows(returns, None, TRAIN_END, StressConfig.smoke())
    with pytest.raises(ValueError, match="not among"):
        segment_labels(windows, list(returns), {"x": ["A0", "ZZZ"]})
    with pytest.raises(ValueError, match="segments is empty"):
        segment_labels(windows, list(returns), {})
    with pytest.raises(ValueError, match="assets has 2 names"):
        segment_labels(windows, ["A0", "A1"], {"x": ["A0"]})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_balanced_index_gives_every_label_the_same_share(seed):
    rng = np.random.default_rng(seed)
    labels = rng.choice([0, 1, 2, 5], size=400, p=[0.7, 0.2, 0.08, 0.02])
    index = balanced_index(labels, seed=seed)
    counts = np.bincount(labels[index])
    present = counts[counts > 0]
    assert len(present) == len(np.unique(labels))
    assert np.all(present == present[0]) and present[0] == np.bincount(labels).max()
    # within a label, every window appears floor or ceil(M / c) times
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        reps = np.bincount(index, minlength=len(labels))[members]
        m, c = present[0], len(members)
        assert reps.min() >= m // c and reps.max() <= -(-m // c)
    np.testing.assert_array_equal(index, balanced_index(labels, seed=seed))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        balanced_index([], seed=0)


def test_conditioning_batch_reads_rows_strictly_before_each_date(returns):
    """Each date's inputs are conditioning_inputs of the rows before it; later rows never count."""
    from diffrisk.stress.windows import conditioning_batch, conditioning_inputs

    cfg = StressConfig.smoke()
    dates = [returns.index[400], returns.index[700]]
    inputs, frame = conditioning_batch(returns, dates, cfg)
    for inp, d in zip(inputs, dates, strict=True):
        s = int(returns.index.searchsorted(d))
        ref = conditioning_inputs(
            returns.to_numpy()[:s],
            cfg.history,
            lam=cfg.ewma_lambda,
            warmup=cfg.ewma_warmup,
            clip=cfg.history_clip,
        )
        np.testing.assert_array_equal(inp.history, ref.history)
        np.testing.assert_array_equal(inp.sigma, ref.sigma)
    assert list(frame["as_of"]) == dates
    assert list(frame["last_history"]) == [returns.index[399], returns.index[699]]
    shocked = returns.copy()
    shocked.iloc[700:] *= 5.0
    again, _ = conditioning_batch(shocked, dates, cfg)
    for a, b in zip(inputs, again, strict=True):
        np.testing.assert_array_equal(a.history, b.history)
