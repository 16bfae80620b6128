"""A training-time cap that the epoch loops honour (equal time budgets for a tuning study).

:func:`time_cap` opens a scope in which every training loop that calls
:func:`stop_for_time` after each epoch (:func:`diffrisk.diffusion.training.train_denoiser`,
hence the stress diffusion model and the VAE, and the GAN's own loop) stops *before* an
epoch that would end past the cap, predicting the next epoch's duration by the last one's.
At least one epoch always runs; the selected epoch is then chosen among those that ran,
by the loop's own rule. Outside a scope nothing changes.

When the cap binds, how many epochs run depends on the machine's speed: results are
deterministic given the seed only when the cap does not bind, which the scope records
(:attr:`TimeCap.hit`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["TimeCap", "stop_for_time", "time_cap"]


@dataclass
class TimeCap:
    """The cap of the current scope.

    Attributes
    ----------
    seconds : float
        Training-loop seconds allowed (epochs and their validation scoring).
    hit : bool
        Whether a loop in the scope stopped because of the cap.
    """

    seconds: float
    hit: bool = False


_CURRENT: ContextVar[TimeCap | None] = ContextVar("diffrisk_time_cap", default=None)


@contextmanager
def time_cap(seconds: float) -> Iterator[TimeCap]:
    """Cap the training time of the loops run inside the ``with`` block.

    Parameters
    ----------
    seconds : float
        Positive and finite.

    Yields
    ------
    TimeCap
        Its ``hit`` tells afterwards whether a loop stopped because of the cap.

    Raises
    ------
    ValueError
        ``seconds`` not positive and finite.
    """
    value = float(seconds)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"the training-time cap must be positive seconds, got {seconds!r}")
    cap = TimeCap(value)
    token = _CURRENT.set(cap)
    try:
        yield cap
    finally:
        _CURRENT.reset(token)


def stop_for_time(elapsed: float, last_epoch: float) -> bool:
    """True when another epoch as long as the last one would end past the current cap.

    Parameters
    ----------
    elapsed : float
        Seconds of the epochs run so far.
    last_epoch : float
        Seconds of the last epoch.

    Examples
    --------
    >>> stop_for_time(50.0, 20.0)  # no cap in scope
    False
    >>> with time_cap(60.0) as cap:
    ...     stop_for_time(30.0, 20.0), stop_for_time(45.0, 20.0)
    (False, True)
    >>> cap.hit
    True
    """
    cap = _CURRENT.get()
    if cap is None or elapsed + last_epoch <= cap.seconds:
        return False
    cap.hit = True
    return True
