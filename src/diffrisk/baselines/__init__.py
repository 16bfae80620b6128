"""The classical one-day forecasters: HS, Monte-Carlo normal, GARCH(1,1)-t, FHS."""

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
