"""Write the example price files of ``examples/`` (own data, README checklist).

``python examples/make_example_csvs.py`` rewrites them from the S&P 500 data shipped with
skfolio (offline):

* ``prices_3tickers_dayfirst.csv``: AAPL, JPM, XOM and the index (column ``SPX``),
  2012-01-03 … 2018-06-29, dates written day first (``03/01/2012``);
* ``prices_one_column.csv``: the index alone (column ``SPX``), same dates, ISO dates and
  no index column;
* ``prices_factor_etfs.csv``: skfolio's five factor ETFs (MTUM, QUAL, SIZE, USMV, VLUE),
  2014-01-02 … 2022-12-28, ISO dates, no index column: a second data set for the whole
  pipeline, with the keys that fit it in ``factor_etfs_params.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from skfolio.datasets import load_factors_dataset

from diffrisk.data.prices import load_skfolio_prices

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Write the example files next to this script."""
    prices, index = load_skfolio_prices("SPX")
    frame = prices[["AAPL", "JPM", "XOM"]].assign(SPX=index).loc["2012-01-01":"2018-06-29"]
    frame = frame.round(4)
    dayfirst = frame.copy()
    dayfirst.index = dayfirst.index.strftime("%d/%m/%Y")
    dayfirst.index.name = "Date"
    dayfirst.to_csv(HERE / "prices_3tickers_dayfirst.csv")
    one = frame[["SPX"]].copy()
    one.index = one.index.strftime("%Y-%m-%d")
    one.index.name = "Date"
    one.to_csv(HERE / "prices_one_column.csv")
    etfs = load_factors_dataset().round(4)
    etfs.index = etfs.index.strftime("%Y-%m-%d")
    etfs.index.name = "Date"
    etfs.to_csv(HERE / "prices_factor_etfs.csv")


if __name__ == "__main__":
    main()
