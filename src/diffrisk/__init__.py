"""diffrisk: VaR/CVaR and stress scenarios with denoising diffusion models.

The package holds every piece of logic of the study; the notebooks under
``notebooks/`` only read their parameters and call into it.

The library's front door is :mod:`diffrisk.api`; its names are available here
(``diffrisk.var``, ``diffrisk.forecast_next_day``, …) and are loaded on first use, so
``import diffrisk`` itself imports nothing heavy (no torch).
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("diffrisk")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

# The public names of diffrisk.api, loaded lazily by __getattr__ (by name, not by an
# import statement, so a stage importing a submodule does not depend on the whole API).
_API = "diffrisk.api"
PUBLIC_NAMES = (
    "ALPHAS",
    "BASELINE_METHODS",
    "CAVIAR_MODEL",
    "DDPMConfig",
    "DDPMModel",
    "DataError",
    "GAS_MODEL",
    "ScenarioSet",
    "Splits",
    "build_returns",
    "cvar",
    "fhs",
    "fit_ddpm",
    "forecast_ddpm",
    "forecast_next_day",
    "fz0_loss",
    "fz0_peer",
    "garch_t",
    "hs",
    "load_model",
    "load_prices",
    "mc_normal",
    "read_long_price_csv",
    "read_price_csv",
    "run_backtests",
    "var",
)

__all__ = ["__version__", *PUBLIC_NAMES]


def __getattr__(name: str) -> Any:
    """Load a public name of :mod:`diffrisk.api` on first access (PEP 562)."""
    if name in PUBLIC_NAMES:
        value = getattr(import_module(_API), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'diffrisk' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
