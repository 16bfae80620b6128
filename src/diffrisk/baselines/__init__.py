"""VaR/CVaR baselines: HS, Monte-Carlo normal, GARCH(1,1)-t, FHS and two FZ0 peers.

Modules: ``historical``, ``garch``, ``garch_fit``, ``gas``, ``caviar``, ``fz_refit``,
``registry``, ``common``.

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

Common parameters
-----------------
Documented once here; the methods, :func:`~diffrisk.baselines.registry.run_baselines` and
:func:`~diffrisk.baselines.fz_refit.fz0_forecasts` refer to this list.

``returns`` (DataFrame)
    Wide daily log returns (fractions), sorted :class:`~pandas.DatetimeIndex`.
``forecast_dates`` (sequence of dates)
    Days to forecast; each must be a date of ``returns.index`` with the history the method
    needs before it (``window`` returns for ``hs`` and ``mc_normal``, ``min_obs`` for the
    refitted models).
``series`` (sequence of str, optional)
    Columns to forecast (default: all).

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
``gas``
    The one-factor GAS model of Patton, Ziegel & Chen (2019), one per alpha, fitted by
    minimising the FZ0 loss on the same refit cadence and window as ``garch_t``
    (:func:`~diffrisk.baselines.fz_refit.fz0_peer` with
    :data:`~diffrisk.baselines.gas.GAS_MODEL`). VaR/ES only: its scenario set is None
    (:data:`~diffrisk.baselines.registry.SCENARIO_FREE_METHODS`).
``es_caviar``
    Taylor's (2019) ES-CAViaR (asymmetric-slope CAViaR, ES a multiple of VaR), fitted
    and refit as ``gas`` (:func:`~diffrisk.baselines.fz_refit.fz0_peer` with
    :data:`~diffrisk.baselines.caviar.CAVIAR_MODEL`); VaR/ES only.
"""

from diffrisk.baselines.caviar import CAVIAR_MODEL
from diffrisk.baselines.common import GARCH_SCALE, MAX_OBS, Result
from diffrisk.baselines.fz_refit import fz0_peer
from diffrisk.baselines.garch import fhs, garch_t
from diffrisk.baselines.gas import GAS_MODEL
from diffrisk.baselines.historical import hs, mc_normal
from diffrisk.baselines.registry import BASELINE_METHODS, SCENARIO_FREE_METHODS, run_baselines

__all__ = [
    "BASELINE_METHODS",
    "CAVIAR_MODEL",
    "GARCH_SCALE",
    "GAS_MODEL",
    "MAX_OBS",
    "SCENARIO_FREE_METHODS",
    "Result",
    "fhs",
    "fz0_peer",
    "garch_t",
    "hs",
    "mc_normal",
    "run_baselines",
]
