"""Time one walk-forward refit of the one-day DDPM (``ddpm_wf``) on the default data.

Each ``ddpm_wf`` version is a warm start of ``select.wf_epochs`` epochs on every return
up to the day before the period it serves (:func:`diffrisk.ddpm.walk_forward.
walk_forward_versions`). With yearly periods over the 2019–2022 test years and a static
model fitted through train only, that is four refits in the ``generate`` stage (through
2018, 2019, 2020, 2021) — one more than before the first test year was served by a refit —
and one or two in the ``select`` stage's rehearsal. This script fits a base model on train
for one epoch (its quality does not matter for the timing), then times one warm-started
refit through the end of validation with the ``params.yaml`` DDPM configuration (untuned
values) and ``wf_epochs``. Wall and this process's CPU time are printed.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_walk_forward.py``
"""

from __future__ import annotations

import yaml
from bench_baselines import VALIDATION, default_returns, timed

from diffrisk.core import paths
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.fit import fit_ddpm, refit_ddpm


def main() -> None:
    params = yaml.safe_load(paths.params_file().read_text())
    ddpm = {**params["ddpm"], "final_refit": False, "max_epochs": 1, "min_epochs": 1}
    config = DDPMConfig.from_dict(ddpm)
    epochs = int(params["select"]["wf_epochs"])
    returns = default_returns()
    returns = returns.loc[returns.index <= VALIDATION[1]]
    splits = {"train_end": "2014-12-31", "val_start": VALIDATION[0], "val_end": VALIDATION[1]}
    print(f"{returns.shape[1]} series; samples_per_epoch={config.samples_per_epoch}")
    print(f"{'what':<44s} {'wall s':>8s} {'cpu s':>8s}")
    model, _ = timed(
        "base fit (1 epoch, train)", fit_ddpm, returns, splits, config, 0, progress=False
    )
    timed(
        f"one warm refit ({epochs} epochs, to {VALIDATION[1]})",
        refit_ddpm,
        model,
        returns,
        VALIDATION[1],
        epochs,
        1,
        warm_start=True,
        progress=False,
    )


if __name__ == "__main__":
    main()
