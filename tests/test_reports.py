"""Tests of diffrisk.reports: tables, figures, the study report, notebook HTML.

The synthetic study: 2 series x 4 methods x 300 business days starting 2019-12-02 (so the
COVID-19 window falls inside). True daily returns are N(0, sigma_t^2) with sigma_t = 1%,
except 3% on days 50-109 (a crash regime). Each method's scenarios are N(0, s_t^2) with
a designed scale s_t:

- portfolio: ddpm s = sigma (the true law, clearly best); fhs s = 0.6 sigma (too narrow,
  fails Kupiec); hs s = 1% and mc_normal s = 1.2% (constant, blind to the regime);
- sp500: fhs s = sigma (best); ddpm s = 0.7 sigma; hs 1%, mc_normal 1.2%.

So the DDPM's average CVaR is deeper than HS and MC on the portfolio (mean scale 1.4%
against 1% and 1.2%) but shallower on sp500 (0.98%): the report must say the paper's
claim holds on one and not on the other. The backtest columns that need the backtest
module's own tests (Christoffersen, Z2 p-value) are designed inputs here: reports.py
only reads them.
"""

from __future__ import annotations

import math
import re

import nbformat
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from diffrisk.core import paths
from diffrisk.evaluation.tables import BACKTEST_COLUMNS
from diffrisk.forecasts.contract import (
    ScenarioSet,
    cvar_column,
    risk_frame_from_scenarios,
    var_column,
)
from diffrisk.reporting.formatting import write_table
from diffrisk.reporting.paper_figures import (
    fig1_distribution,
    fig2_var_vs_returns,
    fig3_cvar_exceedances,
    write_paper_figures,
)
from diffrisk.reporting.paper_tables import (
    extended_table,
    table1_cvar,
    table2_coverage,
    write_paper_tables,
)
from diffrisk.reporting.study_report import (
    _provenance_block,
    render_notebooks_html,
    study_discussion,
    write_study_report,
)
from diffrisk.reporting.style import (
    FIGURE_STEMS,
    METHOD_ORDER,
    TABLE_STEMS,
    method_color,
    method_label,
    series_label,
    set_style,
    sort_methods,
)
from diffrisk.risk.scoring import pit_values

N_DAYS, N_SCEN = 300, 400
SERIES = ("portfolio", "sp500")
METHODS = ("ddpm", "hs", "mc_normal", "fhs")
ALPHAS = (0.05, 0.025, 0.01)
# Designed p-values of the tests whose computation belongs to diffrisk.backtest.
CHRIST_P = {"ddpm": 0.40, "hs": 0.004, "mc_normal": 0.02, "fhs": 0.30}
Z2_P = {"ddpm": 0.35, "hs": 0.01, "mc_normal": 0.03, "fhs": 0.0}


def _sigma() -> np.ndarray:
    sigma = np.full(N_DAYS, 0.01)
    sigma[50:110] = 0.03
    return sigma


def _scales(sigma: np.ndarray) -> dict[str, np.ndarray]:
    one = np.ones_like(sigma)
    return {
        "ddpm": np.stack([sigma, 0.7 * sigma]),
        "hs": np.stack([0.01 * one, 0.01 * one]),
        "mc_normal": np.stack([0.012 * one, 0.012 * one]),
        "fhs": np.stack([0.6 * sigma, sigma]),
    }


def _fz0(r, v, e, alpha):
    """Daily FZ0 loss (Patton, Ziegel & Chen 2019, eq. 6), return space, v, e < 0."""
    return -((r <= v) * (v - r)) / (alpha * e) + v / e + np.log(-e) - 1.0


def _kupiec_p(x: int, n: int, alpha: float) -> float:
    """Kupiec (1995) POF likelihood ratio p-value, chi2(1); x*log(x/n) := 0 at x = 0."""
    phat = x / n
    ll0 = (n - x) * math.log(1 - alpha) + x * math.log(alpha)
    ll1 = (n - x) * math.log(1 - phat) if x < n else 0.0
    ll1 += x * math.log(phat) if x > 0 else 0.0
    return float(stats.chi2.sf(-2 * (ll0 - ll1), 1))


def _backtests(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for m, f in frames.items():
        for s in SERIES:
            g = f[f["series"] == s]
            r = g["realized"].to_numpy()
            for a in ALPHAS:
                v = g[var_column(a)].to_numpy()
                e = g[cvar_column(a)].to_numpy()
                hits = r < v
                x = int(hits.sum())
                rows.append(
                    {
                        "series": s,
                        "method": m,
                        "alpha": a,
                        "n_obs": len(r),
                        "n_exceptions": x,
                        "exception_rate": x / len(r),
                        "avg_var": v.mean(),
                        "avg_cvar": e.mean(),
                        "kupiec_lr": np.nan,
                        "kupiec_p": _kupiec_p(x, len(r), a),
                        "christoffersen_ind_p": CHRIST_P[m],
                        "christoffersen_cc_p": CHRIST_P[m] / 2,
                        "traffic_light": "green",
                        "as_z2": 1 + np.sum(r * hits / (len(r) * a * np.abs(e))),
                        "as_z2_p": Z2_P[m],
                        "fz0_mean": _fz0(r, v, e, a).mean(),
                    }
                )
    return pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))


def _dm_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """FZ0 loss differences against FHS with a plain (iid-variance) DM statistic."""
    rows = []
    for m in METHODS:
        if m == "fhs":
            continue
        for s in SERIES:
            g, b = (frames[k][frames[k]["series"] == s] for k in (m, "fhs"))
            r = g["realized"].to_numpy()
            for a in (0.05, 0.01):
                vc, cc = var_column(a), cvar_column(a)
                d = _fz0(r, g[vc].to_numpy(), g[cc].to_numpy(), a) - _fz0(
                    r, b[vc].to_numpy(), b[cc].to_numpy(), a
                )
                stat = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
                rows.append(
                    {
                        "series": s,
                        "method": m,
                        "alpha": a,
                        "benchmark": "fhs",
                        "mean_loss_diff": d.mean(),
                        "dm_stat": stat,
                        "dm_p": 2 * stats.norm.sf(abs(stat)),
                    }
                )
    return pd.DataFrame(rows)


def _traffic_windows(frames: dict[str, pd.DataFrame], window: int = 250) -> pd.DataFrame:
    """Rolling 250-day windows per Basel zone at 1% (green <= 4, yellow 5-9, red >= 10)."""
    rows = []
    for m, f in frames.items():
        for s in SERIES:
            g = f[f["series"] == s]
            hits = (g["realized"] < g["var_01"]).to_numpy().astype(int)
            counts = np.convolve(hits, np.ones(window, dtype=int), mode="valid")
            rows.append(
                {
                    "series": s,
                    "method": m,
                    "n_green": int((counts <= 4).sum()),
                    "n_yellow": int(((counts >= 5) & (counts <= 9)).sum()),
                    "n_red": int((counts >= 10).sum()),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def study():
    rng = np.random.default_rng(20240501)
    dates = pd.bdate_range("2019-12-02", periods=N_DAYS)
    sigma = _sigma()
    realized = rng.standard_normal((len(SERIES), N_DAYS)) * sigma
    frames, sets = {}, {}
    for m, scale in _scales(sigma).items():
        z = rng.standard_normal((len(SERIES), N_DAYS, N_SCEN))
        scen = (z * scale[:, :, None]).astype(np.float32)
        frames[m] = risk_frame_from_scenarios(scen, dates, SERIES, realized)
        sets[m] = ScenarioSet(scenarios=scen, dates=dates, series=list(SERIES))
    # MC standard errors (designed values) for the DDPM only, in the columns of the
    # coverage stage's mc_error.csv, with three rows per key to exercise the averaging.
    mc = pd.DataFrame(
        [
            {
                "series": s,
                "method": "ddpm",
                "alpha": a,
                "n_scenarios": N_SCEN,
                "var_se": se,
                "cvar_se": se * 2,
                "var_se_rel": 0.01,
                "cvar_se_rel": 0.02,
            }
            for s in SERIES
            for a in (0.05, 0.01)
            for se in (1e-4, 2e-4, 6e-4)
        ]
    )
    return {
        "dates": dates,
        "realized": realized,
        "forecasts": frames,
        "scenarios": sets,
        "backtests": _backtests(frames),
        "dm": _dm_table(frames),
        "traffic": _traffic_windows(frames),
        "mc": mc,
    }


FIG1_METHODS = ("ddpm", "mc_normal", "hs")


@pytest.fixture(scope="module")
def outputs(study, tmp_path_factory):
    """Tables and figures written once into a project root shared by several tests."""
    root = tmp_path_factory.mktemp("study_root").resolve()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIFFRISK_ROOT", str(root))
        tables = write_paper_tables(study["backtests"], study["dm"], study["traffic"], study["mc"])
        figures = write_paper_figures(
            study["forecasts"], {m: study["scenarios"][m] for m in FIG1_METHODS}
        )
        yield {"root": root, "tables": tables, "figures": figures}


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFRISK_ROOT", str(tmp_path))
    assert paths.project_root() == tmp_path.resolve()
    return tmp_path.resolve()


def _row(table: pd.DataFrame, series: str, method: str, alpha: float | None = None):
    mask = (table["Series"] == series_label(series)) & (table["Method"] == method_label(method))
    if alpha is not None:
        mask &= np.isclose(table["Alpha"], alpha)
    sub = table[mask]
    assert len(sub) == 1
    return sub.iloc[0]


# ---- labels, order, colours ----------------------------------------------------------


def test_method_order_labels_and_colours():
    order = sort_methods(["zeta", "ddpm_ddim", "fhs", "ddpm", "hs", "garch_t", "mc_normal"])
    assert order == ["hs", "mc_normal", "garch_t", "fhs", "ddpm", "ddpm_ddim", "zeta"]
    assert method_label("ddpm_ddim") == "Diffusion model (DDPM, ddim)"
    assert method_label("fhs") == "Filtered HS"
    colours = [method_color(m) for m in METHOD_ORDER]
    assert len(set(colours)) == len(colours)
    assert method_color("ddpm_ddim") == method_color("ddpm_ddim")


def test_set_style_pins_fonts_and_dpi():
    import matplotlib

    with matplotlib.rc_context():
        set_style()
        assert matplotlib.rcParams["font.sans-serif"][0] == "DejaVu Sans"
        assert matplotlib.rcParams["savefig.dpi"] == 150
        assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == (method_color("hs"))


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
            assert row[f"Kupiec p ({tag})"] == pytest.approx(_kupiec_p(hits.sum(), N_DAYS, a))
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


# ---- writing tables ------------------------------------------------------------------


def _markdown_rows(text: str) -> list[list[str]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


def test_write_table_csv_markdown_latex(study, root):
    t1 = table1_cvar(study["backtests"])
    out = write_table(t1, "table1_cvar", "Table 1. Average CVaR.")
    assert out["csv"] == root / "reports" / "tables" / "table1_cvar.csv"
    assert all(p.is_file() for p in out.values())
    assert not list(out["csv"].parent.glob(".*.tmp"))  # no temporary files left

    back = pd.read_csv(out["csv"])
    pd.testing.assert_frame_equal(back, t1, check_exact=False, rtol=1e-9)

    md = out["md"].read_text()
    assert md.startswith(
        "Table 1. Average CVaR.\n\n| Series | Method | CVaR 5% (%) | CVaR 1% (%) |"
    )
    rows = _markdown_rows(md)
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


def test_write_paper_tables_formats_and_blocks(outputs):
    written = outputs["tables"]
    assert set(written) == set(TABLE_STEMS)
    assert written["table1_cvar"]["md"] == outputs["root"] / "reports/tables/table1_cvar.md"
    md3 = written["table3_extended"]["md"].read_text()
    rows = _markdown_rows(md3)
    assert len(rows) == 16
    header = [c.strip() for c in md3.splitlines()[2].strip("|").split("|")]
    fhs_row = next(r for r in rows if r[2] == "Filtered HS")
    assert fhs_row[header.index("DM p")] == "–"  # not applicable to the benchmark itself
    assert fhs_row[header.index("Alpha")] in {"5%", ""}
    assert rows[0][:2] == [series_label("portfolio"), "5%"]
    tex3 = written["table3_extended"]["tex"].read_text()
    assert tex3.count(r"$\alpha = 1\%$") == 2
    md2 = written["table2_coverage"]["md"].read_text()
    p_cells = [r[5] for r in _markdown_rows(md2)]  # Kupiec p (5%)
    assert all(re.fullmatch(r"<0\.001|\d\.\d{3}", c) for c in p_cells)


def test_write_table_rejects_bad_arguments(study, root):
    t1 = table1_cvar(study["backtests"])
    with pytest.raises(ValueError, match="stem must be a bare file name"):
        write_table(t1, "tables/t1.csv", "x")
    with pytest.raises(ValueError, match=r"formats names columns \['nope'\]"):
        write_table(t1, "t1", "x", formats={"nope": "int"})
    with pytest.raises(ValueError, match=r"formats\['Method'\] must be one of"):
        write_table(t1, "t1", "x", formats={"Method": "bold"})


# ---- figures -------------------------------------------------------------------------


def test_pit_values_hand_computed_and_errors():
    sc = np.array([[1.0, 2.0, 3.0, 4.0]] * 4)
    u = pit_values(sc, [2.5, 2.0, 0.0, 5.0])
    np.testing.assert_allclose(u, [0.5, 0.375, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"realized must have shape \(4,\)"):
        pit_values(sc, [1.0])
    with pytest.raises(ValueError, match="scenarios must have shape"):
        pit_values(np.ones(3), [1.0])


def test_figures_png_pdf_nontrivial_and_byte_identical(study, outputs):
    fig_dir = outputs["root"] / "reports" / "figures"
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
    (root / "reports" / "notebooks").mkdir(parents=True, exist_ok=True)
    nb_html = root / "reports" / "notebooks" / "01_data.html"
    nb_html.write_text("<html></html>")
    path = write_study_report(
        bt,
        PROVENANCE,
        study["dm"],
        notebooks_html=[nb_html],
        test_period=("2019-12-02", study["dates"][-1]),
    )
    assert path == root / "reports" / "STUDY.md"
    text = path.read_text()

    # Tables inline, figures linked relative to reports/.
    for stem in TABLE_STEMS:
        table_md = (root / "reports" / "tables" / f"{stem}.md").read_text().strip()
        assert table_md in text
    for stem in FIGURE_STEMS:
        assert f"(figures/{stem}.png)" in text and f"(figures/{stem}.pdf)" in text
    assert "(notebooks/01_data.html)" in text
    assert "300 trading days of the test period 2019-12-02 –" in text

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
        "| Git revision | `0123456789abcdef` |",
        "| Package version | `0.1.0` |",
        "| Generated (UTC) | `2024-05-01T12:00:00Z` |",
        '"n_scenarios": 500',
    ):
        assert item in text


def test_discussion_not_significant_and_missing_provenance(study):
    dm = study["dm"].copy()
    dm.loc[(dm.series == "portfolio") & (dm.method == "ddpm"), "dm_p"] = 0.30
    text = study_discussion(study["backtests"], dm, series=["portfolio"])
    assert "is not significant at the 5% level by the Diebold–Mariano test" in text
    assert "(DM = " in text and "p = 0.300)" in text
    no_dm = study_discussion(study["backtests"], None, series=["portfolio"])
    assert "No Diebold–Mariano result against Filtered HS is available for it." in no_dm
    block = _provenance_block({"seed": 1})
    assert "| Git revision | not recorded |" in block


def test_study_report_requires_tables_and_figures(study, root):
    with pytest.raises(FileNotFoundError, match="table1_cvar.md does not exist"):
        write_study_report(study["backtests"], PROVENANCE)
    write_paper_tables(study["backtests"])
    with pytest.raises(FileNotFoundError, match="fig1_distribution.png does not exist"):
        write_study_report(study["backtests"], PROVENANCE)


# ---- notebooks -----------------------------------------------------------------------


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
