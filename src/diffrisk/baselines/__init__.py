"""Classical VaR/CVaR baselines: HS, Monte-Carlo normal, GARCH(1,1)-t and FHS.

Modules: ``historical``, ``garch``, ``garch_fit``, ``registry``, ``common``.

Every method follows the method-forecast contract of the project::

    f(returns, forecast_dates, ...) -> (forecast table, ScenarioSet)

``returns`` is the wide frame of daily log returns (all history, one column per series,
sorted unique :class:`~pandas.DatetimeIndex`); for every date ``d`` of ``forecast_dates``
the forecast uses only rows of ``returns`` strictly before ``d``. The table is built with
:func:`diffrisk.forecasts.contract.risk_frame` (one row per (date, series), VaR/CVaR for every
alpha of :data:`diffrisk.forecasts.contract.ALPHAS`, ``realized = returns.loc[d, series]``) and the
:class:`~diffrisk.forecasts.contract.ScenarioSet` holds the method's predictive draws
(series × days × N, float32) for the Acerbi–Szekely Monte-Carlo p-value and the figures.

Sign convention
---------------
Returns are log returns as fractions (0.01 = 1 %). VaR and CVaR are returns, so negative
numbers for a loss; ``alpha`` is the tail probability (0.01 for 99 % VaR); an exception on
day t is ``r_t < VaR_t`` (strict).

Methods
-------
``hs``
    Historical Simulation: the scenarios are the last ``window`` returns.
``mc_normal``
    Monte-Carlo normal: ``n_scenarios`` seeded normal draws with the sample mean and
    variance of the last ``window`` returns (the paper's Monte-Carlo baseline).
``garch_t``
    Constant-mean GARCH(1,1) with standardised Student-t innovations (``arch``), refit
    every ``refit_every`` forecast days on the last ``max_obs`` returns (or an expanding
    sample); VaR/CVaR analytic.
``fhs``
    Filtered Historical Simulation: the GARCH volatility forecast times the last
    ``n_scenarios`` standardised residuals of the same GARCH fits.
"""

from diffrisk.baselines.common import GARCH_SCALE, MAX_OBS, Result
from diffrisk.baselines.garch import fhs, garch_t
from diffrisk.baselines.historical import hs, mc_normal
from diffrisk.baselines.registry import BASELINE_METHODS, run_baselines

__all__ = [
    "BASELINE_METHODS",
    "GARCH_SCALE",
    "MAX_OBS",
    "Result",
    "fhs",
    "garch_t",
    "hs",
    "mc_normal",
    "run_baselines",
]
