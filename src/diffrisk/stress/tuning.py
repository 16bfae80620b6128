"""Equal tuning budgets for the stress generators: one Optuna TPE study per generator.

The diffusion model, the GAN and the VAE get the same study: the same number of trials,
the same per-trial training-time cap (:func:`~diffrisk.diffusion.time_cap.time_cap`,
honoured by every training loop), the same TPE sampler seed and a search space of the
same three kinds of setting (:data:`SEARCH_SPACE`: network width, learning rate, epoch
budget). Each trial trains with its own rule for the epoch (validation loss or energy
distance, as without tuning) and is scored by the same validation score for all three,
:func:`validation_score`: the energy distance (:func:`~diffrisk.stress.gan.energy_distance`)
between one generated path per validation window (a fixed seeded draw, each path
conditioned on its window's history and realised signature, no guidance: w = 1 for the
diffusion model, which is its conditional model) and the realised validation windows,
in the shared scale ``r / (sigma * target_scale)`` (the statistics are fitted on the
training windows alike for every generator).

Only rows up to ``val_end`` are read: the test period is neither trained on nor scored.
A study is deterministic given its seed when the time cap does not bind (each trial
records whether it did).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import optuna
import pandas as pd
import torch

from diffrisk.diffusion.time_cap import time_cap
from diffrisk.stress.comparison import ComparisonConfig, ComparisonModel
from diffrisk.stress.comparison_training import train_comparison_generator
from diffrisk.stress.config import ParamsSection, StressConfig
from diffrisk.stress.fit import train_stress_model
from diffrisk.stress.gan import energy_distance
from diffrisk.stress.model import StressModel, WindowTensors, fit_training_statistics
from diffrisk.stress.sampling import sample_scaled_paths
from diffrisk.stress.windows import WindowSet

logger = logging.getLogger(__name__)

#: The tuned generators, in study order.
TUNED_GENERATORS: tuple[str, ...] = ("diffusion", "gan", "vae")
#: Per generator: the settings field of each tuned kind (width, learning rate, epochs).
FIELDS: dict[str, dict[str, str]] = {
    "diffusion": {"width": "width", "lr": "lr", "epochs": "max_epochs"},
    "gan": {"width": "width", "lr": "gan_lr", "epochs": "gan_epochs"},
    "vae": {"width": "width", "lr": "vae_lr", "epochs": "vae_epochs"},
}
#: Search space per generator: width choices, log-uniform learning-rate range, epoch range.
SEARCH_SPACE: dict[str, dict[str, tuple]] = {
    "diffusion": {"width": (32, 48, 64), "lr": (3e-4, 3e-3), "epochs": (5, 60)},
    "gan": {"width": (32, 48, 64, 72), "lr": (2e-4, 3e-3), "epochs": (8, 80)},
    "vae": {"width": (32, 48, 64, 72), "lr": (3e-4, 3e-3), "epochs": (8, 60)},
}


@dataclass(frozen=True)
class TuningConfig(ParamsSection):
    """Settings of the equal-budget tuning studies (``params.yaml``'s ``stress.tuning``).

    Parameters
    ----------
    enabled : bool
        Run the studies in the training stages (off: the defaults are used untuned).
    n_trials : int
        Trials of every generator's study (the same for all).
    trial_seconds : float
        Training-time cap of every trial, in seconds (epochs and their validation).
    seed : int
        Seed of the TPE sampler and of every trial's training (the same for all).
    val_windows : int
        Validation windows of the score (a fixed seeded draw; all if fewer).
    """

    enabled: bool = False
    n_trials: int = 4
    trial_seconds: float = 60.0
    seed: int = 0
    val_windows: int = 256

    section: ClassVar[str] = "stress.tuning"

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ValueError(f"stress.tuning.enabled must be true or false, got {self.enabled!r}")
        for name in ("n_trials", "val_windows"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"stress.tuning.{name} must be an integer >= 1, got {value!r}")
        if isinstance(self.seed, bool) or int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"stress.tuning.seed must be an integer >= 0, got {self.seed!r}")
        seconds = float(self.trial_seconds)
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(
                f"stress.tuning.trial_seconds must be positive seconds, got {self.trial_seconds!r}"
            )


@dataclass
class TuningResult:
    """One generator's study.

    Attributes
    ----------
    generator : str
    best_params : dict
        The best trial's settings (field name -> value).
    best_score : float
        Its validation energy distance.
    trials : DataFrame
        One row per trial: ``trial``, the tuned fields, ``score``, ``epochs_run``,
        ``train_seconds``, ``capped`` (the time cap bound).
    model : StressModel or ComparisonModel
        The best trial's fitted model.
    trial_seconds : float
        The per-trial training-time cap of the study.
    """

    generator: str
    best_params: dict[str, Any]
    best_score: float
    trials: pd.DataFrame
    model: StressModel | ComparisonModel = field(repr=False)
    trial_seconds: float = math.nan

    def record(self) -> dict[str, Any]:
        """JSON-ready summary (for the training records and the budget table)."""
        return {
            "n_trials": len(self.trials),
            "trial_seconds": self.trial_seconds,
            "best_params": self.best_params,
            "best_score": self.best_score,
            "trials": self.trials.to_dict(orient="records"),
        }


def apply_params(
    settings: StressConfig | ComparisonConfig, params: Mapping[str, Any]
) -> StressConfig | ComparisonConfig:
    """``settings`` with the tuned fields replaced (the tuned values replace the defaults)."""
    return replace(settings, **dict(params))


def check_space(space: Mapping[str, tuple]) -> dict[str, tuple]:
    """A search space with ``width`` choices, ``lr`` and ``epochs`` ranges, checked.

    Raises
    ------
    ValueError
        Naming the bad key.
    """
    if set(space) != {"width", "lr", "epochs"}:
        raise ValueError(f"search space keys must be width, lr, epochs; got {sorted(space)}")
    widths, (lr_lo, lr_hi), (ep_lo, ep_hi) = space["width"], space["lr"], space["epochs"]
    if not widths or any(int(w) != w or w < 1 or (w > 8 and w % 8) for w in widths):
        raise ValueError(
            f"search space width must be integers in 1..8 or multiples of 8 (group "
            f"normalisation in groups of 8), got {widths!r}"
        )
    if not 0 < lr_lo <= lr_hi:
        raise ValueError(f"search space lr must be 0 < low <= high, got {(lr_lo, lr_hi)!r}")
    if not 1 <= int(ep_lo) <= int(ep_hi):
        raise ValueError(f"search space epochs must be 1 <= low <= high, got {(ep_lo, ep_hi)!r}")
    return {
        "width": tuple(int(w) for w in widths),
        "lr": (float(lr_lo), float(lr_hi)),
        "epochs": (int(ep_lo), int(ep_hi)),
    }


def _suggest(trial: optuna.Trial, generator: str, space: Mapping[str, tuple]) -> dict[str, Any]:
    names = FIELDS[generator]
    return {
        names["width"]: trial.suggest_categorical("width", list(space["width"])),
        names["lr"]: trial.suggest_float("lr", *space["lr"], log=True),
        names["epochs"]: trial.suggest_int("epochs", *space["epochs"]),
    }


def _train(
    generator: str,
    returns: pd.DataFrame,
    dates: tuple,
    config: StressConfig,
    settings: ComparisonConfig,
    seed: int,
) -> StressModel | ComparisonModel:
    if generator == "diffusion":
        return train_stress_model(returns, dates, config, seed=seed, progress=False)
    return train_comparison_generator(
        generator, returns, dates, config, settings, seed=seed, progress=False
    )


@torch.no_grad()
def validation_score(
    generator: str,
    model: StressModel | ComparisonModel,
    batch: Mapping[str, torch.Tensor],
    seed: int,
) -> float:
    """Energy distance of one generated path per validation window to the realised windows.

    Parameters
    ----------
    generator : {"diffusion", "gan", "vae"}
    model : StressModel or ComparisonModel
    batch : mapping
        :meth:`~diffrisk.stress.model.WindowTensors.take` of validation windows (``x0`` the
        realised scaled paths; history, scalars and the full signature condition).
    seed : int
        Seeds the latents / noise.

    Returns
    -------
    float
        :func:`~diffrisk.stress.gan.energy_distance` of generated and realised paths.
    """
    gen = torch.Generator().manual_seed(int(seed))
    net = model.net.eval()
    n = batch["x0"].shape[0]
    if generator == "diffusion":
        context = net.encode_history(batch["history"], batch["scalars"])
        cond = net.embed_signature(batch["signature"], batch["mask"])
        null = net.embed_signature(
            torch.zeros_like(batch["signature"]), torch.ones_like(batch["mask"])
        )
        fake = sample_scaled_paths(model, context, cond, null, 1.0, generator=gen)
    else:
        spec = net.spec
        z = torch.randn(n, spec.latent_channels, spec.horizon, generator=gen)
        eps = torch.randn(n, spec.n_assets, spec.horizon, generator=gen)
        fake = net(z, net.condition(batch), eps if generator == "vae" else None)
    return energy_distance(fake, batch["x0"])


def validation_windows(
    returns: pd.DataFrame, dates: tuple[Any, Any, Any], config: StressConfig, tuning: TuningConfig
) -> tuple[WindowSet, torch.Tensor]:
    """The validation windows and the seeded rows the score uses (rows after val_end dropped).

    Parameters
    ----------
    returns : DataFrame (T, n_assets)
    dates : (train_end, val_start, val_end)
    config : StressConfig
        Window settings (horizon, history, EWMA).
    tuning : TuningConfig
        ``val_windows`` rows drawn with ``seed`` (all windows if fewer).

    Returns
    -------
    (WindowSet, Tensor)
        Pass ``WindowTensors(windows, model).take(rows)`` to :func:`validation_score`.
    """
    _, _, val_end = dates
    visible = returns.loc[returns.index <= pd.Timestamp(val_end)]
    _, _, val_w = fit_training_statistics(visible, dates, config)
    n_val = len(val_w)
    rng = np.random.default_rng(int(tuning.seed))
    rows = np.sort(rng.choice(n_val, min(int(tuning.val_windows), n_val), replace=False))
    return val_w, torch.as_tensor(rows)


def tune_generator(
    generator: str,
    returns: pd.DataFrame,
    dates: tuple[Any, Any, Any],
    config: StressConfig,
    settings: ComparisonConfig | None,
    tuning: TuningConfig,
    space: Mapping[str, tuple] | None = None,
) -> TuningResult:
    """Run one generator's study on training and validation data.

    Parameters
    ----------
    generator : {"diffusion", "gan", "vae"}
    returns : DataFrame (T, n_assets)
        Constituent returns; rows after ``dates[2]`` (``val_end``) are dropped first.
    dates : (train_end, val_start, val_end)
    config : StressConfig
        The diffusion model's settings (windows, history, scaling for every generator;
        the diffusion model's defaults).
    settings : ComparisonConfig or None
        The GAN's and VAE's defaults (None: :class:`ComparisonConfig` defaults; not read
        for the diffusion model).
    tuning : TuningConfig
    space : mapping, optional
        ``{"width": choices, "lr": (low, high), "epochs": (low, high)}``; default
        :data:`SEARCH_SPACE` of the generator.

    Returns
    -------
    TuningResult
    """
    if generator not in TUNED_GENERATORS:
        raise ValueError(f"generator must be one of {TUNED_GENERATORS}, got {generator!r}")
    settings = ComparisonConfig() if settings is None else settings
    space = check_space(SEARCH_SPACE[generator] if space is None else space)
    returns = returns.loc[returns.index <= pd.Timestamp(dates[2])]
    val_w, rows = validation_windows(returns, dates, config, tuning)
    base = config if generator == "diffusion" else settings
    best: dict[str, Any] = {"score": math.inf, "model": None}
    records: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = _suggest(trial, generator, space)
        tuned = apply_params(base, params)
        cfg, cmp_settings = (tuned, settings) if generator == "diffusion" else (config, tuned)
        with time_cap(tuning.trial_seconds) as cap:
            try:
                model = _train(generator, returns, dates, cfg, cmp_settings, int(tuning.seed))
            except (FloatingPointError, RuntimeError) as err:  # diverged: the worst score
                logger.warning("tuning %s trial %d failed: %s", generator, trial.number, err)
                model = None
        score = math.inf
        if model is not None:
            batch = WindowTensors(val_w, model).take(rows)
            score = validation_score(generator, model, batch, int(tuning.seed) + 1)
            score = score if math.isfinite(score) else math.inf
        history = model.history if model is not None else []
        records.append(
            {
                "trial": trial.number,
                **params,
                "score": score,
                "epochs_run": len(history),
                "train_seconds": round(float(sum(h["seconds"] for h in history)), 1),
                "capped": bool(cap.hit),
            }
        )
        logger.info("tuning %s trial %d: %s -> %.5f", generator, trial.number, params, score)
        if score < best["score"]:
            best.update(score=score, model=model)
        return score

    sampler = optuna.samplers.TPESampler(seed=int(tuning.seed))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    tic = time.perf_counter()
    study.optimize(objective, n_trials=int(tuning.n_trials))
    logger.info(
        "tuning %s: %d trials in %.1f s", generator, tuning.n_trials, time.perf_counter() - tic
    )
    if best["model"] is None:
        raise RuntimeError(f"every {generator} tuning trial failed; nothing to select")
    names = FIELDS[generator]
    return TuningResult(
        generator=generator,
        best_params={names[k]: v for k, v in study.best_trial.params.items()},
        best_score=float(best["score"]),
        trials=pd.DataFrame(records),
        model=best["model"],
        trial_seconds=float(tuning.trial_seconds),
    )
