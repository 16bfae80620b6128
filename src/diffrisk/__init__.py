"""diffrisk: VaR/CVaR and stress scenarios with denoising diffusion models.

The package holds every piece of logic of the study; the notebooks under
``notebooks/`` only read their parameters and call into it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("diffrisk")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
