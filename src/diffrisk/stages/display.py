"""What a stage notebook shows beside tables: a plot as an image that says what it shows.

nbconvert renders a figure shown by matplotlib's inline backend with no alternative text
(and logs "Alternative text is missing"); :func:`plot_image` gives it one, as the saved
figures get their captions (:mod:`diffrisk.reporting.notebook_html`).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

__all__ = ["plot_image"]


def plot_image(plot: Any, alt: str) -> Any:
    r"""A matplotlib plot as a PNG image with alternative text; its figure is closed.

    Parameters
    ----------
    plot : Axes, array of Axes or Figure
        What pandas' ``.plot`` returns (an array with ``subplots=True``), or a figure.
    alt : str
        What the plot shows, for a reader who cannot see it (the HTML page's ``alt``).

    Returns
    -------
    IPython.display.Image
        The figure as PNG (tight bounding box), for ``display``; the figure is closed, so
        the inline backend does not show it a second time.

    Raises
    ------
    ValueError
        If ``alt`` is blank.

    Examples
    --------
    >>> import pandas as pd
    >>> image = plot_image(pd.Series([1.0, 2.0]).plot(), alt="Two points rising")
    >>> image.format, image.alt, image.data[:4] == b"\x89PNG"
    ('png', 'Two points rising', True)
    """
    import matplotlib.pyplot as plt
    from IPython.display import Image
    from matplotlib.figure import Figure

    if not str(alt).strip():
        raise ValueError("alt must say what the plot shows")
    first = np.ravel(plot)[0] if isinstance(plot, np.ndarray) else plot
    figure = first if isinstance(first, Figure) else first.get_figure()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return Image(data=buffer.getvalue(), format="png", alt=alt)
