"""Tests of diffrisk.reporting.paper_figures: Figures 1-3."""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

from diffrisk.reporting.paper_figures import (
    fig1_distribution,
    fig2_var_vs_returns,
    fig3_cvar_exceedances,
    write_paper_figures,
)
from diffrisk.reporting.style import FIGURE_STEMS
from tests.reporting.conftest import (
    FIG1_METHODS,
)


def test_figures_png_pdf_nontrivial_and_byte_identical(study, outputs):
    fig_dir = outputs["root"] / "reports" / "figures" / "paper"  # paths.paper_figures_dir()
    first = [outputs["figures"][stem] for stem in FIGURE_STEMS]
    assert first == [(fig_dir / f"{s}.png", fig_dir / f"{s}.pdf") for s in FIGURE_STEMS]
    blobs = {p: p.read_bytes() for pair in first for p in pair}
    for p, blob in blobs.items():
        assert len(blob) > 20_000
        assert blob.startswith(b"\x89PNG" if p.suffix == ".png" else b"%PDF")
    with Image.open(first[0][0]) as img:  # 7 inches at 150 dpi
        assert img.size[0] == 1050
    # Rerun through the single-figure functions, with the realised returns given as a
    # Series this time (the stage derives them from the forecast tables): same bytes.
    realized = pd.Series(study["realized"][0], index=study["dates"])
    fig1_sets = {m: study["scenarios"][m] for m in FIG1_METHODS}
    second = [
        fig1_distribution(realized, fig1_sets, "portfolio", out_dir=fig_dir),
        fig2_var_vs_returns(study["forecasts"], "portfolio", out_dir=fig_dir),
        fig3_cvar_exceedances(study["forecasts"], "portfolio", out_dir=fig_dir),
    ]
    assert second == first
    for p, blob in blobs.items():
        assert p.read_bytes() == blob, f"{p.name} changed on an identical rerun"
    assert not list(fig_dir.glob(".*.tmp"))


def test_figures_reject_bad_inputs(study, root):
    sets, frames = study["scenarios"], study["forecasts"]
    realized = pd.Series(study["realized"][0], index=study["dates"])
    with pytest.raises(ValueError, match="realized has no return on 10 of the 300 dates"):
        fig1_distribution(realized.iloc[10:], {"ddpm": sets["ddpm"]}, "portfolio")
    with pytest.raises(ValueError, match="has no series 'AAPL'"):
        fig1_distribution(realized, {"ddpm": sets["ddpm"]}, "AAPL")
    with pytest.raises(ValueError, match="scenarios_by_method is empty"):
        fig1_distribution(realized, {}, "portfolio")
    with pytest.raises(ValueError, match=r"forecasts\['hs'\] has no rows for series 'AAPL'"):
        fig2_var_vs_returns({"hs": frames["hs"]}, "AAPL")
    with pytest.raises(ValueError, match=r"forecasts\['hs'\] lacks columns \['cvar_01'\]"):
        fig3_cvar_exceedances({"hs": frames["hs"].drop(columns="cvar_01")}, "sp500")
    clash = frames["hs"].assign(realized=frames["hs"]["realized"] + 1e-3)
    with pytest.raises(ValueError, match="disagree on the realised return"):
        write_paper_figures({"hs": frames["hs"], "fhs": clash}, {"hs": sets["hs"]})
