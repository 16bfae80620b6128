"""Tests of diffrisk.reporting.formatting: writing tables."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from diffrisk.reporting.formatting import write_table
from diffrisk.reporting.paper_tables import (
    table1_cvar,
)
from diffrisk.reporting.style import (
    series_label,
)
from tests.reporting.conftest import (
    markdown_rows,
)


def test_write_table_csv_markdown_latex(study, root):
    t1 = table1_cvar(study["backtests"])
    out = write_table(t1, "table1_cvar", "Table 1. Average CVaR.")
    assert out["csv"] == root / "reports" / "tables" / "table1_cvar.csv"
    assert all(p.is_file() for p in out.values())
    assert not list(out["csv"].parent.glob(".*.tmp"))  # no temporary files left

    back = pd.read_csv(out["csv"])
    pd.testing.assert_frame_equal(back, t1, check_exact=False, rtol=5e-4)  # 4 significant digits

    md = out["md"].read_text()
    assert md.startswith(
        "Table 1. Average CVaR.\n\n| Series | Method | CVaR 5% (%) | CVaR 1% (%) |"
    )
    rows = markdown_rows(md)
    assert len(rows) == len(t1) == 8
    # The series name is shown only on the first row of its block.
    assert [r[0] for r in rows] == [
        series_label("portfolio"),
        "",
        "",
        "",
        series_label("sp500"),
        "",
        "",
        "",
    ]
    for cells, (_, rec) in zip(rows, t1.iterrows(), strict=True):
        assert cells[1] == rec["Method"]
        assert float(cells[2]) == pytest.approx(rec["CVaR 5% (%)"], abs=0.005)
        assert re.fullmatch(r"-\d+\.\d{2}", cells[3])

    tex = out["tex"].read_text()
    body = tex.split(r"\midrule", 1)[1].split(r"\bottomrule")[0]
    data_rows = [ln for ln in body.splitlines() if ln.endswith(r"\\") and "multicolumn" not in ln]
    assert len(data_rows) == 8
    assert tex.count(r"\multicolumn{3}{l}") == 2  # one header per series block
    assert r"CVaR 5\% (\%)" in tex and r"\toprule" in tex and r"\bottomrule" in tex
    assert r"Historical Simulation & $-$" in tex
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 1


def test_write_table_rejects_bad_arguments(study, root):
    t1 = table1_cvar(study["backtests"])
    with pytest.raises(ValueError, match="stem must be a bare file name"):
        write_table(t1, "tables/t1.csv", "x")
    with pytest.raises(ValueError, match=r"formats names columns \['nope'\]"):
        write_table(t1, "t1", "x", formats={"nope": "int"})
    with pytest.raises(ValueError, match=r"formats\['Method'\] must be one of"):
        write_table(t1, "t1", "x", formats={"Method": "bold"})
