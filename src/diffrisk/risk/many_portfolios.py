"""VaR, ES and CDaR of many portfolios from one scenario set, chunked on the compute layer.

A bank's nightly job: P portfolios (P in the thousands or millions) over the same assets,
each needing its VaR/ES (and CDaR for path sets) on every day of a scenario set, and a
backtest against the realised returns. The work is split into blocks of
``portfolio_chunk`` portfolios, one Dask task each (:func:`diffrisk.core.compute.compute_map`):

* a task never receives the scenarios: it memory-maps them from one ``.npy`` file (a
  shared file system on a multi-machine cluster) and walks the days in blocks of
  ``day_chunk``, so a task's memory is ``day_chunk × N × H × portfolio_chunk`` floats
  whatever P and D are;
* a portfolio's weights are drawn from its own seed (``SeedSequence([seed, p])``), so a
  task builds its block's weights itself and the results do not depend on the chunk
  sizes or the number of workers;
* with ``out_dir`` each task writes its block's rows to ``part-<first>.parquet``
  (atomically) and returns only their count, so the caller's memory does not grow
  with P either.

Conventions as in :mod:`diffrisk.risk.measures`: returns are log returns, VaR/ES/CDaR
are returns (negative for a loss), alpha is the tail probability, an exception is a
realised portfolio return strictly below VaR. The portfolio return over the horizon is
the sum of the daily-rebalanced portfolio log returns
(:func:`~diffrisk.risk.portfolio.portfolio_log_returns`); CDaR is the mean of the alpha
worst maximum drawdowns of the path (:func:`~diffrisk.risk.portfolio.conditional_drawdown`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.core.compute import compute_map
from diffrisk.core.io import write_parquet
from diffrisk.risk.measures import check_alpha, check_design, var_cvar_levels
from diffrisk.risk.portfolio import conditional_drawdown, portfolio_log_returns
from diffrisk.risk.scoring import fz0_loss

logger = logging.getLogger(__name__)

#: Kinds of random portfolio books (:class:`PortfolioBook`).
BOOK_KINDS: tuple[str, ...] = ("long_only", "long_short")


@dataclass(frozen=True)
class PortfolioBook:
    """P random fully invested portfolios over ``n_assets`` assets, reproducible per row.

    ``long_only``: Dirichlet(1) weights. ``long_short``: ``1.5·a − 0.5·b`` with a, b
    independent Dirichlet(1) rows (sum 1, gross exposure at most 2).
    """

    n_portfolios: int
    n_assets: int
    kind: str = "long_only"
    seed: int = 0

    def __post_init__(self) -> None:
        if int(self.n_portfolios) < 1:
            raise ValueError(f"n_portfolios must be >= 1, got {self.n_portfolios!r}")
        if int(self.n_assets) < 1:
            raise ValueError(f"n_assets must be >= 1, got {self.n_assets!r}")
        if self.kind not in BOOK_KINDS:
            raise ValueError(f"kind must be one of {BOOK_KINDS}, got {self.kind!r}")

    def weights(self, start: int = 0, stop: int | None = None) -> NDArray[np.float64]:
        """Weights of portfolios ``start … stop−1``, shape (stop − start, n_assets)."""
        stop = int(self.n_portfolios) if stop is None else int(stop)
        if not 0 <= start <= stop <= self.n_portfolios:
            raise ValueError(f"need 0 <= start <= stop <= {self.n_portfolios}, got {start}, {stop}")
        ones = np.ones(int(self.n_assets))
        rows = []
        for p in range(int(start), stop):
            rng = np.random.default_rng(np.random.SeedSequence([int(self.seed), p]))
            a = rng.dirichlet(ones)
            rows.append(a if self.kind == "long_only" else 1.5 * a - 0.5 * rng.dirichlet(ones))
        return np.asarray(rows, dtype=float).reshape(-1, int(self.n_assets))


def _as_paths(scenarios: NDArray) -> NDArray:
    """(D, N, A) one-day sets become (D, N, 1, A) paths."""
    if scenarios.ndim == 3:
        return scenarios[:, :, None, :]
    if scenarios.ndim != 4:
        raise ValueError(
            f"scenarios must be (days, scenarios, assets) or (days, scenarios, horizon, assets), "
            f"got shape {scenarios.shape}"
        )
    return scenarios


@dataclass(frozen=True)
class _Block:
    """One task: a block of portfolios over every day of the memory-mapped set."""

    scenarios_path: str
    realized: NDArray[np.float64] | None  # (D, H, A) or None
    book: PortfolioBook
    start: int
    stop: int
    alphas: tuple[float, ...]
    design: str
    day_chunk: int
    out_dir: str | None


def _block_risk(block: _Block) -> pd.DataFrame | int:
    """Summary rows of one portfolio block (a Dask task)."""
    scen = _as_paths(np.load(block.scenarios_path, mmap_mode="r"))
    n_days = scen.shape[0]
    w = block.book.weights(block.start, block.stop)
    p = w.shape[0]
    stats = {
        a: {k: np.zeros(p) for k in ("var", "es", "cdar", "exceptions", "fz0")}
        for a in block.alphas
    }
    for d0 in range(0, n_days, block.day_chunk):
        chunk = np.asarray(scen[d0 : d0 + block.day_chunk], dtype=float)  # (d, N, H, A)
        # (d, P, N, H), contiguous: drawdowns and order statistics run along fast axes
        daily = np.ascontiguousarray(portfolio_log_returns(chunk, w).transpose(0, 3, 1, 2))
        total = daily.sum(axis=-1)  # (d, P, N)
        drawdown = conditional_drawdown(daily)  # (d, P, N)
        realized = None
        if block.realized is not None:
            real = portfolio_log_returns(block.realized[d0 : d0 + block.day_chunk], w)
            realized = real.sum(axis=1)  # (d, P)
        # one partition of the scenarios serves every level
        levels = var_cvar_levels(total, block.alphas, axis=-1, design=block.design)
        cdar_levels = var_cvar_levels(drawdown, block.alphas, axis=-1, design=block.design)
        for a, (v, e), (_, cdar) in zip(block.alphas, levels, cdar_levels, strict=True):
            s = stats[a]  # v, e, cdar: (d, P) each
            s["var"] += v.sum(axis=0)
            s["es"] += e.sum(axis=0)
            s["cdar"] += np.asarray(cdar).sum(axis=0)
            if realized is not None:
                s["exceptions"] += (realized < v).sum(axis=0)
                s["fz0"] += (
                    fz0_loss(realized.ravel(), v.ravel(), e.ravel(), a).reshape(v.shape).sum(axis=0)
                )
    rows = []
    for a in block.alphas:
        s = stats[a]
        frame = pd.DataFrame(
            {
                "portfolio": np.arange(block.start, block.stop),
                "alpha": a,
                "n_days": n_days,
                "mean_var": s["var"] / n_days,
                "mean_es": s["es"] / n_days,
                "mean_cdar": s["cdar"] / n_days,
            }
        )
        if block.realized is not None:
            frame["n_exceptions"] = s["exceptions"].astype(int)
            frame["mean_fz0"] = s["fz0"] / n_days
        rows.append(frame)
    out = pd.concat(rows, ignore_index=True)
    if block.out_dir is None:
        return out
    write_parquet(Path(block.out_dir) / f"part-{block.start:09d}.parquet", out)
    return len(out)


def portfolio_book_risk(
    scenarios_path: str | Path,
    book: PortfolioBook,
    alphas: Sequence[float] = (0.05, 0.01),
    *,
    realized: ArrayLike | None = None,
    design: str = "empirical",
    portfolio_chunk: int = 500,
    day_chunk: int = 1,
    workers: int = 1,
    scheduler: str | None = None,
    out_dir: str | Path | None = None,
) -> pd.DataFrame:
    """VaR/ES/CDaR (and a backtest) of every portfolio of ``book`` on every day of a set.

    Parameters
    ----------
    scenarios_path : path
        A ``.npy`` file of shape (D, N, A) (one-day scenarios of A assets) or
        (D, N, H, A) (H-day paths), log returns; memory-mapped by every task.
    book : PortfolioBook
        The portfolios (``book.n_assets == A``).
    alphas : sequence of float
        Tail probabilities.
    realized : array_like, optional
        Realised asset log returns, (D, A) or (D, H, A): adds ``n_exceptions`` and
        ``mean_fz0`` columns.
    design : {"empirical", "iid", "stratified"}
        Sampling design of the scenarios (the VaR/ES estimator, :mod:`diffrisk.risk.measures`).
    portfolio_chunk, day_chunk : int
        Portfolios per task and days per step inside a task (memory knobs; results do
        not depend on them). One day per step keeps a step's arrays (P x N floats each)
        near the core's cache: measured, two workers ran 1.9-2.1x as fast as one with
        1-4 days per step and 1.56x with 16 (``benchmarks/bench_many_portfolios.py``).
    workers : int
        Processes of the embedded Dask cluster (ignored with ``scheduler``).
    scheduler : str, optional
        A running Dask scheduler (:func:`diffrisk.core.compute.resolve_scheduler`).
    out_dir : path, optional
        Write each block's rows to ``out_dir/part-*.parquet`` and return one summary
        row per alpha instead of P rows (memory independent of P).

    Returns
    -------
    DataFrame
        Without ``out_dir``: one row per (portfolio, alpha) with ``mean_var``,
        ``mean_es``, ``mean_cdar`` (averages over days) and, with ``realized``,
        ``n_exceptions`` and ``mean_fz0``. With ``out_dir``: ``alpha, n_rows, n_parts``.
    """
    path = Path(scenarios_path)
    if not path.is_file():
        raise FileNotFoundError(f"scenarios_path: no such file {path}")
    shape = np.load(path, mmap_mode="r").shape
    n_assets = shape[-1]
    if len(shape) not in (3, 4):
        raise ValueError(f"{path}: scenarios must be 3-D or 4-D, got shape {shape}")
    if book.n_assets != n_assets:
        raise ValueError(f"book.n_assets is {book.n_assets} but {path} holds {n_assets} assets")
    alphas = tuple(check_alpha(a) for a in alphas)
    design = check_design(design)
    real = None
    if realized is not None:
        real = np.asarray(realized, dtype=float)
        real = real[:, None, :] if real.ndim == 2 else real
        horizon = shape[2] if len(shape) == 4 else 1
        if real.shape != (shape[0], horizon, n_assets):
            raise ValueError(
                f"realized must be ({shape[0]}, {n_assets}) or ({shape[0]}, {horizon}, "
                f"{n_assets}) to match {path}, got {np.shape(realized)}"
            )
    for name, value in (("portfolio_chunk", portfolio_chunk), ("day_chunk", day_chunk)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value!r}")
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    blocks = [
        _Block(
            str(path),
            real,
            book,
            start,
            min(start + int(portfolio_chunk), book.n_portfolios),
            alphas,
            design,
            int(day_chunk),
            None if out_dir is None else str(out_dir),
        )
        for start in range(0, book.n_portfolios, int(portfolio_chunk))
    ]
    logger.info(
        "risk of %d portfolios × %d days in %d task(s)", book.n_portfolios, shape[0], len(blocks)
    )
    parts = compute_map(_block_risk, blocks, workers, scheduler=scheduler, desc="portfolios")
    if out_dir is None:
        return pd.concat(parts, ignore_index=True).sort_values(
            ["alpha", "portfolio"], ascending=[False, True], ignore_index=True
        )
    written = int(sum(parts))
    if written != book.n_portfolios * len(alphas):
        raise RuntimeError(
            f"expected {book.n_portfolios * len(alphas)} rows in {out_dir}, tasks wrote {written}"
        )
    return pd.DataFrame(
        {"alpha": list(alphas), "n_rows": book.n_portfolios, "n_parts": len(blocks)}
    )
