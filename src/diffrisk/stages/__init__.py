"""One module per DVC stage: it reads its own parameters and calls the layers below.

Each stage module's :func:`run` takes the stage's parameter sections (as ``dvc.yaml``
declares them) and calls the stage's worker function with explicit arguments; the worker
is what tests and other callers use. Stage modules do not import each other: what they
share lives in :mod:`diffrisk.stages.common` and the helper modules ``ddpm_settings``,
``baseline_settings`` and ``param_checks``; ``params`` prints a stage's parameters for its
``dvc.yaml`` command.
"""
