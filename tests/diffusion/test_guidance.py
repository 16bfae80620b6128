"""Tests of diffrisk.diffusion.guidance: classifier-free guidance."""

from __future__ import annotations

import pytest
import torch

from diffrisk.diffusion.guidance import check_guidance_weight, guided_eps_fn, guided_prediction


def test_guided_prediction_is_the_cfg_mixture():
    uncond, cond = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.0])
    torch.testing.assert_close(guided_prediction(uncond, cond, 0.0), uncond)
    torch.testing.assert_close(guided_prediction(uncond, cond, 1.0), cond)
    torch.testing.assert_close(guided_prediction(uncond, cond, 2.0), torch.tensor([5.0, 2.0]))


def predictor(calls):
    """A fake network: conditional rows predict x + 1, unconditional x; records calls."""

    def predict(x, t, rows, conditional):
        calls.append((rows, conditional, tuple(t.shape)))
        return x + (1.0 if conditional else 0.0) + 0.0 * t[:, None]

    return predict


@pytest.mark.parametrize("chunk", [1, 2, 10])
def test_guided_eps_fn_chunks_rows_and_skips_the_conditional_pass_at_zero(chunk):
    x = torch.arange(10.0).reshape(5, 2)
    calls = []
    eps = guided_eps_fn(predictor(calls), lambda x_, t, p: 2.0 * p, 1.5, chunk)(x, 3)
    torch.testing.assert_close(eps, 2.0 * (x + 1.5))
    assert {c[1] for c in calls} == {False, True}
    calls.clear()
    eps0 = guided_eps_fn(predictor(calls), lambda x_, t, p: p, 0.0, chunk)(x, 3)
    torch.testing.assert_close(eps0, x)
    assert all(not c[1] for c in calls) and len(calls) == -(-5 // chunk)


def test_negative_or_infinite_weight_raises():
    assert check_guidance_weight(0.0) == 0.0
    for w in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="guidance must be a finite number >= 0"):
            check_guidance_weight(w)


def test_predict_pair_replaces_the_two_passes_and_gives_the_same_mixture():
    x = torch.arange(12.0).reshape(6, 2)
    calls, pair_calls = [], []

    def pair(x_, t, rows):
        pair_calls.append(rows)
        return x_, x_ + 1.0  # unconditional, conditional

    two = guided_eps_fn(predictor(calls), lambda x_, t, p: p, 2.5, 4)(x, 7)
    one = guided_eps_fn(predictor(calls.clear() or calls), lambda x_, t, p: p, 2.5, 4, pair)(x, 7)
    torch.testing.assert_close(one, two)
    torch.testing.assert_close(one, x + 2.5)
    assert not calls and pair_calls == [slice(0, 4), slice(4, 8)]
    # w = 0: the unconditional pass only, the pair is never called
    pair_calls.clear()
    guided_eps_fn(predictor(calls), lambda x_, t, p: p, 0.0, 4, pair)(x, 7)
    assert not pair_calls and len(calls) == 2
