"""A plot shown by a stage notebook says what it shows (diffrisk.stages.display)."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from PIL import Image as PILImage

from diffrisk.stages.display import plot_image


def test_subplots_become_one_png_with_its_alt_text_and_the_figure_is_closed():
    plt.close("all")
    history = pd.DataFrame({"train_loss": [0.3, 0.2, 0.1], "val_loss": [0.4, 0.3, 0.35]})
    axes = history.plot(subplots=True, figsize=(4, 3))
    image = plot_image(axes, alt="Training and validation loss per epoch")
    assert image.alt == "Training and validation loss per epoch"
    _, metadata = image._repr_mimebundle_()
    assert metadata == {"image/png": {"alt": "Training and validation loss per epoch"}}
    with PILImage.open(io.BytesIO(image.data)) as png:
        assert png.format == "PNG" and min(png.size) > 100
    assert plt.get_fignums() == []  # not shown a second time by the inline backend


def test_a_figure_is_accepted_and_a_blank_alt_refused():
    figure, ax = plt.subplots()
    ax.plot([1, 2])
    assert plot_image(figure, alt="A line").data.startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="alt must say what the plot shows"):
        plot_image(pd.Series([1.0]).plot(), alt="  ")
    plt.close("all")
