"""Tests of diffrisk.reporting.paper_tables: Tables 1-3."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.forecasts.contract import (
    var_column,
)
from diffrisk.reporting.paper_tables import (
    extended_table,
    table1_cvar,
    table2_coverage,
)
from diffrisk.reporting.study_report import (
    study_discussion,
)
from diffrisk.reporting.style import (
    TABLE_STEMS,
    method_label,
    series_label,
)
from tests.reporting.conftest import (
    CHRIST_P,
    METHODS,
    N_DAYS,
    SERIES,
    Z2_P,
    kupiec_p_value,
    markdown_rows,
)


def _row(table: pd.DataFrame, series: str, method: str, alpha: float | None = None):
    mask = (table["Series"] == series_label(series)) & (table["Method"] == method_label(method))
    if alpha is not None:
        mask &= np.isclose(table["Alpha"], alpha)
    sub = table[mask]
    assert len(sub) == 1
    return sub.iloc[0]


# ---- Table 1 and 2 -------------------------------------------------------------------


def test_table1_is_average_cvar_in_percent_per_series_block(study):
    t1 = table1_cvar(study["backtests"])
    assert list(t1.columns) == ["Series", "Method", "CVaR 5% (%)", "CVaR 1% (%)"]
    # Blocks: portfolio first, then sp500; methods in display order inside each block.
    expected_methods = [method_label(m) for m in ("hs", "mc_normal", "fhs", "ddpm")]
    assert list(t1["Series"]) == [series_label(s) for s in SERIES for _ in range(4)]
    assert list(t1["Method"]) == expected_methods * 2
    for s in SERIES:
        for m in METHODS:
            f = study["forecasts"][m]
            g = f[f["series"] == s]
            row = _row(t1, s, m)
            # hand-computed: mean of the daily CVaR forecasts, times 100
            assert row["CVaR 5% (%)"] == pytest.approx(100 * g["cvar_05"].mean(), rel=1e-12)
            assert row["CVaR 1% (%)"] == pytest.approx(100 * g["cvar_01"].mean(), rel=1e-12)
    assert (t1[["CVaR 5% (%)", "CVaR 1% (%)"]] < 0).all().all()
    assert (t1["CVaR 1% (%)"] < t1["CVaR 5% (%)"]).all()
    # Normal scenarios: CVaR_a = -s phi(z_a)/a; HS has s = 1% so CVaR 5% is about -2.06%.
    hs_closed_form = -100 * 0.01 * stats.norm.pdf(stats.norm.ppf(0.05)) / 0.05
    assert _row(t1, "portfolio", "hs")["CVaR 5% (%)"] == pytest.approx(hs_closed_form, rel=0.03)


def test_table2_exception_rates_and_kupiec(study):
    t2 = table2_coverage(study["backtests"], series=["sp500"])
    assert set(t2["Series"]) == {series_label("sp500")}
    assert len(t2) == 4
    for m in METHODS:
        f = study["forecasts"][m]
        g = f[f["series"] == "sp500"]
        row = _row(t2, "sp500", m)
        for a, tag in ((0.05, "5%"), (0.01, "1%")):
            hits = g["realized"] < g[var_column(a)]
            assert row[f"Exc. {tag} (n)"] == hits.sum()
            assert row[f"Exc. {tag} (%)"] == pytest.approx(100 * hits.mean())
            assert row[f"Kupiec p ({tag})"] == pytest.approx(kupiec_p_value(hits.sum(), N_DAYS, a))
        assert row["Days"] == N_DAYS


def test_tables_reject_bad_backtests(study):
    bt = study["backtests"]
    with pytest.raises(ValueError, match=r"lacks columns \['avg_cvar'\]"):
        table1_cvar(bt.drop(columns="avg_cvar"))
    with pytest.raises(ValueError, match="duplicate rows"):
        table2_coverage(pd.concat([bt, bt.iloc[:1]]))
    with pytest.raises(ValueError, match=r"no rows for series \['AAPL'\]"):
        table1_cvar(bt, series=["AAPL"])
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        table1_cvar(bt.to_dict())


def test_missing_method_alpha_is_nan(study):
    bt = study["backtests"]
    drop = (bt["method"] == "hs") & np.isclose(bt["alpha"], 0.01)
    t1 = table1_cvar(bt[~drop])
    row = _row(t1, "portfolio", "hs")
    assert math.isnan(row["CVaR 1% (%)"]) and np.isfinite(row["CVaR 5% (%)"])


# ---- extended table ------------------------------------------------------------------


def test_extended_table_joins_dm_traffic_light_and_mc_errors(study):
    t3 = extended_table(study["backtests"], study["dm"], study["traffic"], study["mc"])
    assert len(t3) == 2 * 2 * 4  # series x alpha x methods
    assert list(t3["Alpha"].iloc[:8]) == [0.05] * 4 + [0.01] * 4
    dm = study["dm"]
    for s in SERIES:
        for a in (0.05, 0.01):
            fhs = _row(t3, s, "fhs", a)
            assert math.isnan(fhs["DM vs FHS"]) and math.isnan(fhs["DM p"])
            for m in ("ddpm", "hs", "mc_normal"):
                row = _row(t3, s, m, a)
                src = dm[(dm.series == s) & (dm.method == m) & np.isclose(dm.alpha, a)].iloc[0]
                assert row["DM vs FHS"] == pytest.approx(src["dm_stat"])
                assert row["DM p"] == pytest.approx(src["dm_p"])
                assert row["Christoffersen ind p"] == CHRIST_P[m]
                assert row["Z2 p"] == Z2_P[m]
    tl = study["traffic"]
    for m in METHODS:
        src = tl[(tl.series == "portfolio") & (tl.method == m)].iloc[0]
        row = _row(t3, "portfolio", m, 0.01)
        assert (row["TL green"], row["TL yellow"], row["TL red"]) == (
            src["n_green"],
            src["n_yellow"],
            src["n_red"],
        )
        assert row["TL green"] + row["TL yellow"] + row["TL red"] == N_DAYS - 250 + 1
        # Without an alpha column, window counts are the Basel 1% ones only.
        assert math.isnan(_row(t3, "portfolio", m, 0.05)["TL green"])
    # MC errors: mean of the rows (1e-4, 2e-4, 6e-4) = 3e-4, shown in percent.
    ddpm = _row(t3, "sp500", "ddpm", 0.01)
    assert ddpm["MC s.e. VaR (%)"] == pytest.approx(0.03)
    assert ddpm["MC s.e. CVaR (%)"] == pytest.approx(0.06)
    assert math.isnan(_row(t3, "sp500", "hs", 0.01)["MC s.e. VaR (%)"])


def test_extended_table_accepts_long_traffic_windows_with_alpha(study):
    wide = study["traffic"]
    long = wide.melt(id_vars=["series", "method"], var_name="zone", value_name="n_windows")
    long["zone"] = long["zone"].str.replace("n_", "", regex=False)
    long["alpha"] = 0.05
    t3 = extended_table(study["backtests"], None, long)
    row = _row(t3, "sp500", "hs", 0.05)
    src = wide[(wide.series == "sp500") & (wide.method == "hs")].iloc[0]
    assert row["TL red"] == src["n_red"]
    assert math.isnan(_row(t3, "sp500", "hs", 0.01)["TL red"])
    assert math.isnan(row["DM p"])  # no DM table given


def test_extended_table_rejects_bad_inputs(study):
    bt, dm, tl = study["backtests"], study["dm"], study["traffic"]
    with pytest.raises(ValueError, match=r"dm_table lacks columns \['dm_p'\]"):
        extended_table(bt, dm.drop(columns="dm_p"), tl)
    with pytest.raises(ValueError, match="one column per zone"):
        extended_table(bt, dm, tl.drop(columns="n_red"))
    bad_zone = pd.DataFrame({"series": ["sp500"], "method": ["hs"], "zone": ["blue"], "n": [3]})
    with pytest.raises(ValueError, match="zone must be one of"):
        extended_table(bt, dm, bad_zone)
    no_count = pd.DataFrame({"series": ["sp500"], "method": ["hs"], "zone": ["red"]})
    with pytest.raises(ValueError, match="no count column"):
        extended_table(bt, dm, no_count)
    with pytest.raises(ValueError, match=r"mc_errors lacks columns \['cvar_se'\]"):
        extended_table(bt, dm, tl, study["mc"].drop(columns="cvar_se"))
    with pytest.raises(ValueError, match="no rows with loss 'fz0'"):
        extended_table(bt, dm.assign(loss="quantile"), tl)


def test_tables_read_the_backtest_module_outputs(study):
    """The real producers' formats (diffrisk.backtest) go through unchanged."""
    from diffrisk import backtest

    frames = study["forecasts"]
    bt = backtest.backtest_table(frames, alphas=(0.05, 0.01), n_sim=0)
    dm = backtest.diebold_mariano_table(frames, alphas=(0.05, 0.01))
    tl = backtest.traffic_light_table(frames)  # has yellow_from / red_from columns too
    t1 = table1_cvar(bt)
    mine = table1_cvar(study["backtests"])
    np.testing.assert_allclose(t1["CVaR 1% (%)"], mine["CVaR 1% (%)"], rtol=1e-10)
    t3 = extended_table(bt, dm, tl)
    for m in ("ddpm", "hs"):
        row = _row(t3, "portfolio", m, 0.01)
        src = tl[(tl.series == "portfolio") & (tl.method == m)].iloc[0]
        assert (row["TL green"], row["TL yellow"], row["TL red"]) == (
            src["green"],
            src["yellow"],
            src["red"],
        )
    ddpm = _row(t3, "portfolio", "ddpm", 0.05)
    assert ddpm["DM vs FHS"] < 0  # backtest convention: negative = lower loss than FHS
    text = study_discussion(bt, dm, series=["portfolio"])
    assert "Lowest mean FZ0 loss: Diffusion model (DDPM) (" in text


def test_write_paper_tables_formats_and_blocks(outputs):
    written = outputs["tables"]
    assert set(written) == set(TABLE_STEMS)
    assert written["table1_cvar"]["md"] == outputs["root"] / "reports/tables/table1_cvar.md"
    md3 = written["table3_extended"]["md"].read_text()
    rows = markdown_rows(md3)
    assert len(rows) == 16
    header = [c.strip() for c in md3.splitlines()[2].strip("|").split("|")]
    fhs_row = next(r for r in rows if r[2] == "Filtered HS")
    assert fhs_row[header.index("DM p")] == "–"  # not applicable to the benchmark itself
    assert fhs_row[header.index("Alpha")] in {"5%", ""}
    assert rows[0][:2] == [series_label("portfolio"), "5%"]
    tex3 = written["table3_extended"]["tex"].read_text()
    assert tex3.count(r"$\alpha = 1\%$") == 2
    md2 = written["table2_coverage"]["md"].read_text()
    p_cells = [r[5] for r in markdown_rows(md2)]  # Kupiec p (5%)
    assert all(re.fullmatch(r"<0\.001|\d\.\d{3}", c) for c in p_cells)
