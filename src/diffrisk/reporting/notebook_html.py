"""The executed stage notebooks as self-contained HTML pages (the report stage).

nbconvert's ``lab`` template, minus the blocks that load scripts from a CDN, and with the
alternative text of each image: a figure shown with ``Image(filename=..., alt=<stem>)``
gets the text ``alt_text(<stem>)`` (the report passes the figure's caption), so a screen
reader reads what the figure shows instead of nbconvert's "No description has been
provided for this image".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from diffrisk.core import io

__all__ = ["render_notebooks_html"]

logger = logging.getLogger(__name__)

_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock html_head_js_requirejs %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block data_png scoped %}
{%- set alt = output | get_metadata('alt', 'image/png') -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- if alt %} alt="{{ alt | escape_html }}"{% endif %}
{%- set width = output | get_metadata('width', 'image/png') -%}
{%- if width is not none %} width={{ width | escape_html }}{% endif %}
{%- set height = output | get_metadata('height', 'image/png') -%}
{%- if height is not none %} height={{ height | escape_html }}{% endif %}
>
</div>
{%- endblock data_png %}
"""


def _describe_images(node, alt_text: Callable[[str], str]) -> None:
    """Replace the ``alt`` of every PNG output of ``node`` by ``alt_text(alt)``."""
    for cell in node.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("image/png", {})
            if "image/png" in output.get("data", {}) and meta.get("alt"):
                meta["alt"] = alt_text(str(meta["alt"]))


def render_notebooks_html(
    executed_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    alt_text: Callable[[str], str] | None = None,
) -> list[Path]:
    """Render every executed notebook (``*.ipynb``) of a folder to self-contained HTML.

    Parameters
    ----------
    executed_dir : path-like
        Folder of executed notebooks (``reports/notebooks``).
    out_dir : path-like
        Folder for ``<name>.html``.
    alt_text : callable, optional
        Maps an image's ``alt`` as the notebook gave it (a figure's file stem) to the text
        the page shows (its caption); None keeps it as given.

    Returns
    -------
    list of Path
        The HTML files, in name order.

    Notes
    -----
    Uses nbconvert's ``HTMLExporter`` with the ``lab`` template minus the blocks that load
    require.js, MathJax, Mermaid and the widget renderer from a CDN: the pages load
    nothing remote (equations show as TeX source), images are embedded as data URIs with
    their alternative text, and the conversion needs no network.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    src = Path(executed_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"executed_dir {src} is not a folder")
    notebooks = sorted(src.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks (*.ipynb) in {src}")
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"diffrisk_offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="diffrisk_offline.html.j2",
        embed_images=True,
    )
    written = []
    for nb_path in notebooks:
        try:
            node = nbformat.read(nb_path, as_version=4)
        except Exception as exc:  # nbformat raises several unrelated types
            raise ValueError(f"cannot read notebook {nb_path}: {exc}") from exc
        if alt_text is not None:
            _describe_images(node, alt_text)
        body, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": nb_path.stem}})
        written.append(io.write_text(Path(out_dir) / f"{nb_path.stem}.html", body))
    logger.info("rendered %d notebooks to %s", len(written), out_dir)
    return written
