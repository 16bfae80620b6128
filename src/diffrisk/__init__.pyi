# Type stub of the package: the names diffrisk/__init__.py loads lazily from diffrisk.api.
from diffrisk.api import ALPHAS as ALPHAS
from diffrisk.api import BASELINE_METHODS as BASELINE_METHODS
from diffrisk.api import CAVIAR_MODEL as CAVIAR_MODEL
from diffrisk.api import GAS_MODEL as GAS_MODEL
from diffrisk.api import DataError as DataError
from diffrisk.api import DDPMConfig as DDPMConfig
from diffrisk.api import DDPMModel as DDPMModel
from diffrisk.api import ScenarioSet as ScenarioSet
from diffrisk.api import Splits as Splits
from diffrisk.api import build_returns as build_returns
from diffrisk.api import cvar as cvar
from diffrisk.api import fhs as fhs
from diffrisk.api import fit_ddpm as fit_ddpm
from diffrisk.api import forecast_ddpm as forecast_ddpm
from diffrisk.api import forecast_next_day as forecast_next_day
from diffrisk.api import fz0_loss as fz0_loss
from diffrisk.api import fz0_peer as fz0_peer
from diffrisk.api import garch_t as garch_t
from diffrisk.api import hs as hs
from diffrisk.api import load_model as load_model
from diffrisk.api import load_prices as load_prices
from diffrisk.api import mc_normal as mc_normal
from diffrisk.api import read_long_price_csv as read_long_price_csv
from diffrisk.api import read_price_csv as read_price_csv
from diffrisk.api import run_backtests as run_backtests
from diffrisk.api import var as var

__version__: str
__all__: list[str]
