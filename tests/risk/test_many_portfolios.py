"""Many-portfolios VaR/ES/CDaR: agrees with the one-portfolio path, independent of chunks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.risk.many_portfolios import PortfolioBook, portfolio_book_risk
from diffrisk.risk.measures import cvar, var
from diffrisk.risk.portfolio import portfolio_log_returns, risk_summary
from diffrisk.risk.scoring import fz0_loss


@pytest.fixture
def one_day_set(tmp_path):
    rng = np.random.default_rng(7)
    scen = rng.standard_t(4, size=(9, 200, 5)) * 0.01
    path = tmp_path / "scen.npy"
    np.save(path, scen)
    realized = rng.normal(0, 0.012, size=(9, 5))
    return path, scen, realized


def test_book_weights_sum_to_one_and_do_not_depend_on_the_block():
    for kind in ("long_only", "long_short"):
        book = PortfolioBook(50, 6, kind, seed=3)
        w = book.weights()
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
        np.testing.assert_array_equal(book.weights(10, 20), w[10:20])
        if kind == "long_only":
            assert (w >= 0).all()
        else:
            assert (w < 0).any() and (np.abs(w).sum(axis=1) <= 2 + 1e-12).all()


def test_portfolio_risk_matches_the_one_portfolio_formulas(one_day_set):
    path, scen, realized = one_day_set
    book = PortfolioBook(7, 5, "long_short", seed=1)
    out = portfolio_book_risk(path, book, (0.05, 0.01), realized=realized, portfolio_chunk=3)
    w = book.weights()
    for p in (0, 4, 6):
        port = portfolio_log_returns(scen, w[p])  # (D, N)
        real = portfolio_log_returns(realized, w[p])
        for a in (0.05, 0.01):
            row = out[(out.portfolio == p) & (out.alpha == a)].iloc[0]
            v, e = var(port, a, axis=1), cvar(port, a, axis=1)
            assert row.mean_var == pytest.approx(v.mean(), rel=1e-12)
            assert row.mean_es == pytest.approx(e.mean(), rel=1e-12)
            assert row.n_exceptions == int((real < v).sum())
            assert row.mean_fz0 == pytest.approx(fz0_loss(real, v, e, a).mean(), rel=1e-12)
            # a one-day path: its drawdown is min(r, 0), so CDaR is the ES of that
            cdar = cvar(np.minimum(port, 0.0), a, axis=1).mean()
            assert row.mean_cdar == pytest.approx(cdar, rel=1e-12)


def test_path_sets_agree_with_risk_summary(tmp_path):
    rng = np.random.default_rng(2)
    paths = rng.normal(0, 0.01, size=(1, 300, 10, 4))  # one day, 10-day paths
    np.save(tmp_path / "paths.npy", paths)
    book = PortfolioBook(3, 4, seed=9)
    out = portfolio_book_risk(tmp_path / "paths.npy", book, (0.05,))
    ref = risk_summary(paths[0], {str(i): w for i, w in enumerate(book.weights())}, (0.05,))
    np.testing.assert_allclose(out.mean_var, ref["var"], rtol=1e-12)
    np.testing.assert_allclose(out.mean_es, ref["es"], rtol=1e-12)
    np.testing.assert_allclose(out.mean_cdar, ref["cdar"], rtol=1e-12)


@pytest.mark.slow
def test_results_do_not_depend_on_chunks_or_workers_and_parts_are_written(
    one_day_set, tmp_path, dask_cluster
):
    path, _, realized = one_day_set
    book = PortfolioBook(40, 5, seed=4)
    a = portfolio_book_risk(path, book, realized=realized, portfolio_chunk=40, day_chunk=9)
    b = portfolio_book_risk(
        path,
        book,
        realized=realized,
        portfolio_chunk=7,
        day_chunk=2,
        workers=2,
        scheduler=dask_cluster,
    )
    pd.testing.assert_frame_equal(a, b)
    summary = portfolio_book_risk(
        path, book, realized=realized, portfolio_chunk=16, out_dir=tmp_path / "parts"
    )
    assert summary.n_parts.tolist() == [3, 3]
    parts = pd.concat(pd.read_parquet(p) for p in sorted((tmp_path / "parts").iterdir()))
    parts = parts.sort_values(["alpha", "portfolio"], ascending=[False, True], ignore_index=True)
    pd.testing.assert_frame_equal(parts, a)


def test_bad_input_is_named(one_day_set, tmp_path):
    path, _, realized = one_day_set
    with pytest.raises(ValueError, match="book.n_assets is 4"):
        portfolio_book_risk(path, PortfolioBook(2, 4))
    with pytest.raises(ValueError, match="realized must be"):
        portfolio_book_risk(path, PortfolioBook(2, 5), realized=realized[:3])
    with pytest.raises(FileNotFoundError, match="scenarios_path"):
        portfolio_book_risk(tmp_path / "nope.npy", PortfolioBook(2, 5))
    with pytest.raises(ValueError, match="portfolio_chunk"):
        portfolio_book_risk(path, PortfolioBook(2, 5), portfolio_chunk=0)
    with pytest.raises(ValueError, match="kind must be one of"):
        PortfolioBook(2, 5, "levered")
