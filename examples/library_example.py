"""The README's library example: own prices in, VaR/CVaR forecasts and backtests out.

Run from the repository root: ``python examples/library_example.py`` (about half a minute
on one core; ``tests/test_readme_example.py`` runs it).
"""

import diffrisk

# 1. Own prices: a day-first CSV with three stocks and an index column (SPX).
prices, index = diffrisk.load_prices(
    source="csv",
    csv_path="examples/prices_3tickers_dayfirst.csv",
    date_format="%d/%m/%Y",
    index_column="SPX",
    index_name="spx",
)
returns = diffrisk.build_returns(prices, index)[["portfolio", "spx"]]  # daily log returns

# 2. Fit a small conditional DDPM: train to 2016, select the epoch on 2017.
splits = diffrisk.Splits.from_params("2016-12-31", "2017-01-01", "2017-12-31", "2018-01-01")
config = diffrisk.DDPMConfig(scaling="ewma", max_epochs=2, samples_per_epoch=4096)
model, _ = diffrisk.fit_ddpm(returns, splits, config, seed=0)

# 3. Forecast every test day (2018) with the DDPM and with FHS; backtest both.
test_days = returns.loc["2018-01-01":].index
forecasts, scenarios = {}, {}
forecasts["ddpm"], scenarios["ddpm"] = diffrisk.forecast_ddpm(model, returns, test_days)
forecasts["fhs"], scenarios["fhs"] = diffrisk.fhs(returns, test_days)
table = diffrisk.run_backtests(forecasts, scenarios, alphas=[0.05, 0.01], n_sim=200)
print(table[["series", "method", "alpha", "n_exceptions", "kupiec_p", "fz0_mean"]])

# 4. Tomorrow's 99 % VaR and CVaR (returns: -0.02 is a 2 % loss); alpha is the tail
#    probability, diffrisk.var(x, 0.95) raises instead of returning the upper tail.
tomorrow, _ = diffrisk.forecast_next_day("ddpm", returns, model=model)
print(tomorrow[["date", "series", "var_01", "cvar_01"]])
