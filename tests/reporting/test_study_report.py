"""Tests of diffrisk.reporting.study_report: the study report and notebook HTML."""

from __future__ import annotations

import re

import numpy as np
import pytest

from diffrisk.reporting.formatting import headline_markdown
from diffrisk.reporting.headline_text import goal_paragraph, methods_paragraph
from diffrisk.reporting.paper_tables import (
    write_paper_tables,
)
from diffrisk.reporting.references import REFERENCES
from diffrisk.reporting.study_report import (
    figure_caption,
    provenance_block,
    study_discussion,
    write_study_report,
)
from diffrisk.reporting.style import (
    FIGURE_CAPTIONS,
    FIGURE_STEMS,
    TABLE_STEMS,
    series_label,
)
from tests.reporting.conftest import designed_headline

# ---- study report --------------------------------------------------------------------

PROVENANCE = {
    "data_hash": "ab12cd34",
    "git_revision": "0123456789abcdef",
    "package_version": "0.1.0",
    "timestamp_utc": "2024-05-01T12:00:00Z",
    "seed": 7,
    "params": {"generate": {"n_scenarios": 500}, "seed": 7},
}


def _section(text: str, series: str, tag: str) -> str:
    head = f"### {series_label(series)}, α = {tag}\n"
    return text.split(head, 1)[1].split("\n### ", 1)[0]


def test_study_report_states_computed_winners_and_provenance(study, outputs):
    bt, root = study["backtests"], outputs["root"]
    # The designed truths hold in the computed backtests.
    for s, winner in (("portfolio", "ddpm"), ("sp500", "fhs")):
        for a in (0.05, 0.01):
            cell = bt[(bt.series == s) & np.isclose(bt.alpha, a)]
            assert cell.loc[cell.fz0_mean.idxmin(), "method"] == winner
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    notebook = root / "notebooks" / "01_data.ipynb"
    notebook.write_text("{}")
    path = write_study_report(
        bt,
        PROVENANCE,
        study["dm"],
        notebooks=[notebook],
        test_period=("2019-12-02", study["dates"][-1]),
    )
    assert path == root / "reports" / "STUDY.md"
    text = path.read_text()

    # Tables inline; figures numbered, captioned and linked relative to reports/ (the
    # paper figures are in reports/figures/paper, the figures stage's directory output).
    for stem in TABLE_STEMS:
        table_md = (root / "reports" / "tables" / f"{stem}.md").read_text().strip()
        assert table_md in text
    for number, stem in enumerate(FIGURE_STEMS, start=1):
        assert f"![Figure {number}: {stem}](figures/paper/{stem}.png)" in text
        caption = FIGURE_CAPTIONS[stem].format(crash_window="Feb–Apr 2020")  # the default
        assert f"**Figure {number}.** {caption}" in text
        assert f"([PDF](figures/paper/{stem}.pdf))" in text
    # The committed stage notebooks are linked; nothing under the git-ignored reports/html/.
    assert "- [01_data](../notebooks/01_data.ipynb)" in text
    assert "](html/" not in text and "reports/notebooks/" in text
    assert "300 trading days of the test period 2019-12-02 –" in text
    what = text.split("## What was done", 1)[1].split("\n## ", 1)[0]
    assert "Kupiec (1995)" in what and "Diebold–Mariano (1995)" in what

    # Order: discussion, notebooks, references, then the appendix with every parameter.
    heads = ["## Discussion", "## Stage notebooks", "## References", "## Appendix"]
    assert [text.index(h) for h in heads] == sorted(text.index(h) for h in heads)
    appendix = text.split("## Appendix: provenance and parameters", 1)[1]
    assert '"n_scenarios": 500' in appendix and '"n_scenarios"' not in text.split("## Appendix")[0]
    references = text.split("## References\n\n", 1)[1].split("\n\n## ", 1)[0]
    assert references.count("\n- ") + 1 == len(REFERENCES)
    for short in ("Kupiec", "Christoffersen", "Acerbi", "Diebold", "Ho, J., Jain"):
        assert short in references

    # Winner sentences match the designed data.
    port5 = _section(text, "portfolio", "5%")
    dm = study["dm"]
    p = dm[(dm.series == "portfolio") & (dm.method == "ddpm") & (dm.alpha == 0.05)].dm_p.iloc[0]
    assert p < 0.05
    assert "Lowest mean FZ0 loss: Diffusion model (DDPM) (" in port5
    assert "Its advantage over Filtered HS (FZ0 " in port5
    assert "is significant at the 5% level by the Diebold–Mariano test" in port5
    sp1 = _section(text, "sp500", "1%")
    assert "Lowest mean FZ0 loss: Filtered HS (" in sp1
    assert "Diebold–Mariano benchmark itself: no method has a lower mean FZ0" in sp1
    assert "A diffusion-model configuration has the lowest mean FZ0 loss in 2 of the 4" in text

    # Kupiec: FHS with 0.6x the true scale on the portfolio is rejected.
    kupiec = port5.split("Kupiec test: ", 1)[1].split(" Christoffersen independence:", 1)[0]
    rejected = kupiec.split("rejected (p < 0.05) for ", 1)[1]
    assert "Filtered HS" in rejected
    assert "Diffusion model (DDPM)" not in rejected
    # Christoffersen (designed p): HS 0.004 and MC 0.02 rejected, DDPM 0.40 and FHS 0.30 pass.
    assert (
        "Christoffersen independence: passed (p ≥ 0.05) by Filtered HS and Diffusion model "
        "(DDPM); rejected (p < 0.05) for Historical Simulation and Monte Carlo (normal)."
    ) in port5
    rate = bt[(bt.series == "portfolio") & (bt.method == "fhs") & (bt.alpha == 0.05)]
    assert f"Filtered HS {100 * rate.exception_rate.iloc[0]:.2f}%" in port5

    # The paper's CVaR claim: holds on the portfolio, fails on sp500 (designed scales).
    assert (
        "the paper's claim of a deeper CVaR than Historical Simulation and Monte Carlo holds"
        in port5
    )
    assert "Monte Carlo does not hold here" in _section(text, "sp500", "5%")

    # Provenance block.
    for item in (
        "| Raw data SHA-256 | `ab12cd34` |",
        "| Package version | `0.1.0` |",
        '"n_scenarios": 500',
    ):
        assert item in text
    # run-dependent provenance stays out of the committed report (reruns leave it unchanged)
    assert "0123456789abcdef" not in text and "2024-05-01T12:00:00Z" not in text


def test_study_report_links_only_to_files_that_exist(study, outputs):
    """Every relative link of the report resolves to a file next to it."""
    root = outputs["root"]
    path = write_study_report(study["backtests"], PROVENANCE, study["dm"])
    targets = re.findall(r"\]\(([^)#]+)\)", path.read_text())
    assert len(targets) == 2 * len(FIGURE_STEMS)
    missing = [t for t in targets if not (path.parent / t).is_file()]
    assert not missing and not any(t.startswith(("http:", "https:", "/")) for t in targets)
    assert path.parent == root / "reports"


def test_closing_sections_and_further_series_figures(study, outputs):
    root = outputs["root"]
    fdir = root / "reports" / "figures"
    # paper figures in reports/figures/paper, the closing sections' figures in reports/figures
    for folder, stem in ((fdir / "paper", "fig1_distribution_sp500"), (fdir, "stress_acf")):
        for ext in ("png", "pdf"):
            (folder / f"{stem}.{ext}").write_bytes(b"figure")
    path = write_study_report(
        study["backtests"],
        PROVENANCE,
        study["dm"],
        figures=(*FIGURE_STEMS, "fig1_distribution_sp500"),
        series=["portfolio", "sp500"],
        closing_sections=[("## Stress scenarios\n\nStress text.\n", ["stress_acf"])],
    )
    text = path.read_text()
    # the further series' figure takes its stem's caption and names its series
    assert "![Figure 4: fig1_distribution_sp500](figures/paper/fig1_distribution_sp500.png)" in text
    assert f"**Figure 4.** {FIGURE_CAPTIONS['fig1_distribution']} Series: S&P 500 index." in text
    assert f"**Figure 1.** {FIGURE_CAPTIONS['fig1_distribution']} Series: Portfolio" in text
    # closing sections follow the discussion, their figures numbered on
    stress = text.split("## Stress scenarios\n\nStress text.\n\n", 1)[1]
    assert stress.startswith("![Figure 5: stress_acf](figures/stress_acf.png)")
    assert f"**Figure 5.** {FIGURE_CAPTIONS['stress_acf']}" in stress
    assert text.index("## Discussion") < text.index("## Stress scenarios")
    assert text.index("## Stress scenarios") < text.index("## References")
    (fdir / "stress_acf.pdf").unlink()
    with pytest.raises(FileNotFoundError, match="stress_acf.pdf does not exist"):
        write_study_report(
            study["backtests"], PROVENANCE, closing_sections=[("## S\n", ["stress_acf"])]
        )


def test_paper_figures_dir_argument(study, outputs, tmp_path):
    """The paper figures are read from ``paper_figures_dir``; links stay relative."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for png, pdf in outputs["figures"].values():
        for p in (png, pdf):
            (elsewhere / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "out" / "STUDY.md"
    path = write_study_report(
        study["backtests"], PROVENANCE, out_path=out, paper_figures_dir=elsewhere
    )
    text = path.read_text()
    for number, stem in enumerate(FIGURE_STEMS, start=1):
        assert f"![Figure {number}: {stem}](../elsewhere/{stem}.png)" in text
    (elsewhere / "fig2_var_vs_returns.pdf").unlink()
    with pytest.raises(FileNotFoundError, match="elsewhere/fig2_var_vs_returns.pdf does not"):
        write_study_report(
            study["backtests"], PROVENANCE, out_path=out, paper_figures_dir=elsewhere
        )


def test_figure_caption():
    assert figure_caption("fig2_var_vs_returns") == FIGURE_CAPTIONS["fig2_var_vs_returns"]
    assert figure_caption("fig2_var_vs_returns", ["sp500"]).endswith("Series: S&P 500 index.")
    window = {"crash_window": "Mar 2009"}
    caption = figure_caption("fig3_cvar_exceedances_portfolio", fields=window)
    assert "crash window (Mar 2009) shaded" in caption
    assert caption.endswith("Series: Portfolio (equal-weighted).")
    stress = {"horizon": "10", "segments_es": "2.5%", "reverse_es": "5%", "audit_relief": "20%"}
    segments = figure_caption("stress_segments", ["portfolio"], stress)
    assert segments == FIGURE_CAPTIONS["stress_segments"].format(**stress)
    assert "generated 10-day 2.5% ES" in segments and "Series" not in segments
    assert "the diffusion model's 5% ES of the 10-day loss" in figure_caption(
        "reverse_stress", fields=stress
    )
    assert "more than 20% relief" in figure_caption("stress_adversarial", fields=stress)
    assert figure_caption("unknown_figure") == "unknown_figure"
    # a caption never shows an unfilled field or a level the run did not use
    for stem in FIGURE_CAPTIONS:
        with_fields = figure_caption(stem, fields={**window, **stress})
        assert "{" not in with_fields and "20-day" not in with_fields
    with pytest.raises(ValueError, match="'reverse_stress' needs the field 'reverse_es'"):
        figure_caption("reverse_stress", fields={"horizon": "20"})


def test_discussion_not_significant_and_missing_provenance(study):
    dm = study["dm"].copy()
    dm.loc[(dm.series == "portfolio") & (dm.method == "ddpm"), "dm_p"] = 0.30
    text = study_discussion(study["backtests"], dm, series=["portfolio"])
    assert "is not significant at the 5% level by the Diebold–Mariano test" in text
    assert "(DM = " in text and "p = 0.300)" in text
    no_dm = study_discussion(study["backtests"], None, series=["portfolio"])
    assert "No Diebold–Mariano result against Filtered HS is available for it." in no_dm
    block = provenance_block({"seed": 1})
    assert "| Raw data SHA-256 | not recorded |" in block
    assert "Git" not in provenance_block({"seed": 1, "git_revision": "abc+dirty"}).split("\n\n")[0]


def test_study_report_requires_tables_and_figures(study, root):
    with pytest.raises(FileNotFoundError, match="table1_cvar.md does not exist"):
        write_study_report(study["backtests"], PROVENANCE)
    write_paper_tables(study["backtests"])
    with pytest.raises(FileNotFoundError, match="paper/fig1_distribution.png does not exist"):
        write_study_report(study["backtests"], PROVENANCE)


# ---- headline section ----------------------------------------------------------------


def test_study_report_opens_with_the_headline_and_its_verdict(study, outputs):
    root = outputs["root"]
    frame = designed_headline({("sp500", 0.01, "ddpm_ens"): {"kupiec_p": 0.0055, "tl_red": 76}})
    table_md = headline_markdown(frame, "fhs", "**Headline.** Caption.")
    (root / "reports" / "tables" / "headline.md").write_text(table_md)
    path = write_study_report(
        study["backtests"],
        PROVENANCE,
        study["dm"],
        headline=frame,
        extra_sections=[("Seed ensemble", "Ensemble text.\n")],
    )
    text = path.read_text()
    order = [text.index(h) for h in ("## What was done", "## Headline", "## Results")]
    assert order == sorted(order)
    head = text.split("## Headline\n\n", 1)[1].split("\n## Results", 1)[0]
    assert head.startswith(table_md.strip())
    assert goal_paragraph(frame, "ddpm_ens", "fhs") in head
    assert "does **not** meet it" in head and "76 red traffic-light windows" in head
    assert methods_paragraph(frame, "fhs") in head
    assert "Uniformity of the PIT (Kolmogorov–Smirnov" in head
    results = text.split("## Results", 1)[1].split("## Figures", 1)[0]
    assert results.rstrip().endswith("### Seed ensemble\n\nEnsemble text.")
    # the headline needs its table file and exactly one primary method
    with pytest.raises(ValueError, match="exactly one primary method"):
        write_study_report(
            study["backtests"], PROVENANCE, study["dm"], headline=frame.assign(primary=False)
        )
    (root / "reports" / "tables" / "headline.md").unlink()
    with pytest.raises(FileNotFoundError, match="table 'headline'"):
        write_study_report(study["backtests"], PROVENANCE, study["dm"], headline=frame)
