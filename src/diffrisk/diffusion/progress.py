"""The tqdm progress bar of the training loop and the samplers."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm


def progress_bar(total: int, desc: str, progress: bool | None, **kwargs: Any) -> tqdm:
    """A tqdm bar over ``total`` updates, shown as ``progress`` asks.

    Parameters
    ----------
    total : int
        Number of ``update(1)`` calls expected.
    desc : str
        Label of the bar.
    progress : bool, optional
        True shows the bar, False hides it, ``None`` shows it only on a terminal
        (tqdm's ``disable=None``).
    **kwargs
        Passed on to :class:`tqdm.auto.tqdm` (e.g. ``initial``, ``leave``).

    Returns
    -------
    tqdm
    """
    return tqdm(
        total=total,
        desc=desc,
        disable=(not progress) if progress is not None else None,
        **kwargs,
    )
