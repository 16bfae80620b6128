"""Tests of diffrisk.reporting.formatting: writing tables."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from diffrisk.evaluation.headline import HEADLINE_COLUMNS
from diffrisk.reporting.formatting import (
    headline_display,
    headline_markdown,
    window_label,
    write_table,
)
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


def _headline_rows() -> pd.DataFrame:
    base = dict.fromkeys(HEADLINE_COLUMNS, math.nan)
    rows = [
        {
            **base,
            "series": "sp500",
            "alpha": 0.01,
            "method": "ddpm_ens",
            "primary": True,
            "n_obs": 1006,
            "n_exceptions": 20,
            "expected_exceptions": 10.06,
            "kupiec_p": 0.0056,
            "christoffersen_cc_p": 0.0141,
            "as_z2_p": 0.0004,
            "tl_red": 76,
            "pit_ks_p": 0.0112,
            "fz0_mean": -3.16643,
            "fz0_diff": -0.02971,
            "dm_p": 0.5981,
            "crash_days": 61,
            "crash_exceptions": 5.0,
        },
        {
            **base,
            "series": "sp500",
            "alpha": 0.01,
            "method": "fhs",
            "primary": False,
            "n_obs": 1006,
            "n_exceptions": 9,
            "expected_exceptions": 10.06,
            "kupiec_p": 0.732,
            "fz0_mean": -3.1367,
            "tl_red": 0,
            "crash_exceptions": 1.0,
        },
    ]
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))


def test_headline_markdown_shows_every_number_with_its_format():
    text = headline_markdown(_headline_rows(), "fhs", "Caption.", "Feb–Apr 2020")
    assert text.startswith("Caption.\n\n| Series | Alpha | Method | Exc. (expected) | Kupiec p")
    assert text.endswith("|\n")
    header = text.splitlines()[2]
    assert "FZ0 vs fhs" in header and "Exc. Feb–Apr 2020 (n)" in header
    rows = markdown_rows(text)
    assert rows[0] == [
        "sp500",
        "1%",
        "**ddpm_ens** (primary)",
        "20 (10.1)",
        "0.006",
        "0.014",
        "<0.001",
        "76",
        "0.011",
        "-3.1664",
        "-0.0297",
        "0.598",
        "5",
    ]
    # the block columns are blanked on the second row; missing values show a dash
    assert rows[1][:4] == ["", "", "fhs", "9 (10.1)"]
    assert rows[1][5] == "–" and rows[1][10] == "–" and rows[1][11] == "–"
    frame = headline_display(_headline_rows(), "fhs")
    assert list(frame.columns)[-1] == "Exc. Feb–Apr 2020 (n)"


def test_window_label():
    assert window_label("2020-02-01", "2020-04-30") == "Feb–Apr 2020"
    assert window_label("2020-03-01", "2020-03-31") == "Mar 2020"
    assert window_label("2020-02-19", "2020-04-30") == "2020-02-19–2020-04-30"
