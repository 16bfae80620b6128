"""Executed notebooks as offline HTML pages with described images (reporting.notebook_html)."""

from __future__ import annotations

import base64
import logging
import re

import nbformat
import pytest

from diffrisk.reporting.notebook_html import render_notebooks_html
from diffrisk.reporting.study_report import figure_caption

# a 1x1 PNG
PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d4944415478da63f8cfc0f01f0005000201d4a3a1c60000000049454e44ae426082"
    )
).decode()


def test_render_notebooks_html_offline(tmp_path):
    src, out = tmp_path / "executed", tmp_path / "html"
    src.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Data stage $x^2$"),
        nbformat.v4.new_code_cell(
            "1 + 1",
            outputs=[
                nbformat.v4.new_output(
                    "execute_result", data={"text/plain": "424242"}, execution_count=1
                )
            ],
        ),
    ]
    nbformat.write(nb, src / "01_data.ipynb")
    written = render_notebooks_html(src, out)
    assert written == [out / "01_data.html"]
    html = written[0].read_text()
    assert "Data stage" in html and "424242" in html
    assert not re.search(r"<script[^>]+src=", html)
    assert "cdnjs" not in html and "unpkg" not in html
    assert render_notebooks_html(src, out)[0].read_text() == html
    with pytest.raises(FileNotFoundError, match="no executed notebooks"):
        render_notebooks_html(out, tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        render_notebooks_html(tmp_path / "missing", out)


def image_notebook(folder, alt):
    """A notebook with one PNG output, shown as IPython's ``Image(..., alt=alt)`` stores it."""
    folder.mkdir()
    metadata = {"image/png": {"alt": alt}} if alt else {}
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "display(Image(filename=str(png), alt=png.stem))",
            outputs=[
                nbformat.v4.new_output("display_data", data={"image/png": PIXEL}, metadata=metadata)
            ],
        )
    ]
    nbformat.write(nb, folder / "08_figures.ipynb")
    return folder


def test_a_figure_is_described_by_its_caption(tmp_path, caplog):
    src = image_notebook(tmp_path / "executed", "stress_acf")
    with caplog.at_level(logging.WARNING):
        html = render_notebooks_html(src, tmp_path / "html", alt_text=figure_caption)[0]
    text = html.read_text()
    caption = figure_caption("stress_acf")
    assert caption.startswith("Autocorrelation of the daily returns")
    tag = re.search(r"<img [^>]*>", text).group(0)
    assert f'alt="{caption}"' in tag and f"data:image/png;base64,{PIXEL}" in tag
    assert "No description has been provided" not in text
    assert "Alternative text is missing" not in caplog.text
    plain = render_notebooks_html(src, tmp_path / "plain")[0].read_text()
    assert 'alt="stress_acf"' in plain  # without alt_text: the notebook's own text


def test_an_image_without_alternative_text_still_gets_nbconverts_default(tmp_path):
    src = image_notebook(tmp_path / "executed", None)
    text = render_notebooks_html(src, tmp_path / "html", alt_text=figure_caption)[0].read_text()
    assert 'alt="No description has been provided for this image"' in text
