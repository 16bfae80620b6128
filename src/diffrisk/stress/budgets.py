"""What each stress generator was given: parameters, epochs, time, conditioning, tuning.

The budget table of the stress comparison (``reports/tables/stress_budgets``), built only
from what was recorded: the loaded checkpoints (network shapes, settings, per-epoch
histories), the training stage's records (``models/stress_train.json``,
``models/stress_train_comparison.json``: each fit's wall time and tuning trials) and the
metadata of the generated scenario sets (the per-request guidance calibration actually
run). Nothing here is a setting copied from ``params.yaml``.

Parameter counts are measured per network (:func:`count_parameters`). Networks trained but
not saved (the GAN's critic, the VAE's encoder) are rebuilt from the checkpoint's
network spec, so their counts are those of the trained architecture.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from torch import nn

from diffrisk.core.tables import markdown_table
from diffrisk.stress.comparison import ComparisonModel, PathGenerator
from diffrisk.stress.gan import Critic
from diffrisk.stress.model import StressModel
from diffrisk.stress.vae import ConditionalVAE

#: Selection criterion of each trained generator's epoch (the rule in its training module):
#: the key of its training history the rule minimises, and the rule in words.
SELECTION: dict[str, tuple[str, str]] = {
    "diffusion": ("val_loss", "validation denoising loss (v-prediction MSE)"),
    "gan": ("score", "validation energy distance"),
    "vae": ("val_loss", "validation -ELBO"),
}
#: Columns of :func:`budget_table`, in order.
BUDGET_COLUMNS: tuple[str, ...] = (
    "generator",
    "networks",
    "parameters_sampling",
    "parameters_trained",
    "epoch_budget",
    "patience",
    "epochs_run",
    "epoch_selected",
    "selection",
    "train_seconds",
    "fit_seconds",
    "conditioning",
    "calibration",
    "tuning_trials",
    "tuning_trial_seconds",
)

#: Wall-clock columns of :func:`budget_table`: measured, so they differ on every rerun; the
#: pipeline's committed table leaves them out (``wall_times=False``) so that a rerun that
#: moves no number leaves it unchanged (the times stay in ``models/stress_train*.json``).
WALL_TIME_COLUMNS: tuple[str, ...] = ("train_seconds", "fit_seconds")


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) scalar parameters of ``module``.

    Examples
    --------
    >>> count_parameters(nn.Linear(3, 4))
    16
    """
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only))


def network_counts(generator: str, model: StressModel | ComparisonModel) -> dict[str, int]:
    """Trainable parameters per network of a trained generator.

    Parameters
    ----------
    generator : {"diffusion", "gan", "vae"}
    model : StressModel or ComparisonModel
        A loaded checkpoint.

    Returns
    -------
    dict
        ``{"denoiser": n}`` (diffusion), ``{"generator": n, "critic": m}`` (GAN) or
        ``{"decoder": n, "encoder": m}`` (VAE; the decoder includes the condition encoder
        shared with the encoder). The critic and the VAE's encoder are not saved; they
        are rebuilt from the checkpoint's spec.
    """
    if generator == "diffusion":
        return {"denoiser": count_parameters(model.net)}
    if not isinstance(model, ComparisonModel) or model.kind != generator:
        raise ValueError(f"model is not a {generator!r} comparison model")
    spec = model.net.spec
    if generator == "gan":
        return {"generator": count_parameters(model.net), "critic": count_parameters(Critic(spec))}
    vae = ConditionalVAE(PathGenerator(spec, output_noise=True))
    return {"decoder": count_parameters(model.net), "encoder": count_parameters(vae.encoder)}


def calibration_by_generator(set_metadata: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict:
    """Describe the per-request calibration each generator's scenario sets record.

    Parameters
    ----------
    set_metadata : mapping
        ``{(generator, archetype): metadata}`` of the generated sets
        (:func:`~diffrisk.stress.scenario_sets.read_scenario_set`).

    Returns
    -------
    dict
        ``{generator: text}``: for sets with a ``generation.guidance_calibration`` record
        the weight calibrated (the guidance weight, or the conditioning gain of sets that
        record ``conditioning_gain``), the number of calibrated requests, the grid size
        and the pilot paths per date; ``"none"`` otherwise.
    """
    found: dict[str, list[Mapping[str, Any]]] = {}
    weight: dict[str, str] = {}
    for (gen, _), meta in set_metadata.items():
        found.setdefault(gen, [])
        generation = meta.get("generation") or {}
        calib = generation.get("guidance_calibration")
        if calib:
            found[gen].append(calib)
            if "conditioning_gain" in generation:
                weight[gen] = "conditioning gain"
    out = {}
    for gen, calibs in found.items():
        if not calibs:
            out[gen] = "none"
            continue
        grids = sorted({len(c["grid"]) for c in calibs})
        pilots = sorted({int(c["n_paths_per_date"]) for c in calibs})
        out[gen] = (
            f"{weight.get(gen, 'guidance weight')} per request from a grid of "
            f"{'/'.join(map(str, grids))} "
            f"({len(calibs)} requests, {'/'.join(map(str, pilots))} pilot paths each)"
        )
    return out


def _conditioning(model: StressModel | ComparisonModel, guided: bool) -> str:
    settings = model.config if isinstance(model, StressModel) else model.settings
    return (
        f"history {model.config.history} d + signature "
        f"(dropout: whole {settings.p_uncond:g}, component {settings.p_drop_component:g})"
        + ("; classifier-free guidance" if guided else "; signature input, no guidance")
    )


def _train_seconds(record: Mapping[str, Any]) -> float | None:
    """The recorded epoch times summed (the checkpoints store none: their hash is stable)."""
    times = [h["seconds"] for h in record.get("history", []) if "seconds" in h]
    return round(float(sum(times)), 1) if times else None


def _trained_row(
    generator: str,
    model: StressModel | ComparisonModel,
    record: Mapping[str, Any],
    calibration: str,
) -> dict[str, Any]:
    history = list(model.history)
    if not history:
        raise ValueError(f"the {generator} checkpoint has no training history")
    key = "score" if generator == "gan" else "val_loss"
    selected = min(history, key=lambda h: h[key])
    if generator == "diffusion":
        budget, patience = model.config.max_epochs, model.config.patience
    else:
        budget = getattr(model.settings, f"{generator}_epochs")
        patience = getattr(model.settings, f"{generator}_patience")
    counts = network_counts(generator, model)
    tuning = record.get("tuning") or {}
    return {
        "generator": generator,
        "networks": "; ".join(f"{name} {n:,}" for name, n in counts.items()),
        "parameters_sampling": next(iter(counts.values())),
        "parameters_trained": sum(counts.values()),
        "epoch_budget": int(budget),
        "patience": int(patience),
        "epochs_run": len(history),
        "epoch_selected": int(selected["epoch"]),
        "selection": SELECTION[generator][1],
        "train_seconds": _train_seconds(record),
        "fit_seconds": float(record["wall_time_s"]) if "wall_time_s" in record else None,
        "conditioning": _conditioning(model, guided=generator == "diffusion"),
        "calibration": calibration,
        "tuning_trials": int(tuning.get("n_trials", 0)),
        "tuning_trial_seconds": tuning.get("trial_seconds") if tuning.get("n_trials") else None,
    }


def budget_table(
    trained: Mapping[str, StressModel | ComparisonModel],
    records: Mapping[str, Mapping[str, Any]],
    set_metadata: Mapping[tuple[str, str], Mapping[str, Any]],
    n_assets: int,
    wall_times: bool = True,
) -> pd.DataFrame:
    """One row per generator: what it was given to fit and to answer requests.

    Parameters
    ----------
    trained : mapping
        ``{"diffusion": StressModel, "gan": ComparisonModel, "vae": ComparisonModel}``
        (loaded checkpoints; any subset).
    records : mapping
        ``{generator: record}``: ``stress_train.json`` for the diffusion model and the
        generator's entry of ``stress_train_comparison.json`` (``wall_time_s``, optional
        ``tuning`` with ``n_trials`` and ``trial_seconds``, the per-trial time cap); a
        missing record leaves ``fit_seconds`` empty.
    set_metadata : mapping
        ``{(generator, archetype): metadata}`` of the generated sets (the calibration
        actually run, :func:`calibration_by_generator`).
    n_assets : int
        Assets of the fitted statistics of the multivariate normal row.
    wall_times : bool, default True
        Include the measured :data:`WALL_TIME_COLUMNS` (False: every column is a
        deterministic function of the recorded fits).

    Returns
    -------
    DataFrame
        :data:`BUDGET_COLUMNS`. ``parameters_sampling`` counts the network that generates
        (denoiser, GAN generator, VAE decoder), ``parameters_trained`` every network
        trained (critic and encoder included); ``train_seconds`` sums the recorded epoch
        times (training and validation scoring), ``fit_seconds`` is the wall time of its
        fit (tuning included) in the training stage. The normal and bootstrap rows are
        fitted statistics: the normal's count is its mean vector and covariance matrix, the
        bootstrap has none (it resamples standardised training days).
    """
    calibration = calibration_by_generator(set_metadata)
    rows = [
        _trained_row(gen, trained[gen], records.get(gen, {}), calibration.get(gen, "none"))
        for gen in ("diffusion", "gan", "vae")
        if gen in trained
    ]
    a = int(n_assets)
    fitted = {
        "normal": ("fitted statistics: mean and covariance", a + a * (a + 1) // 2),
        "bootstrap": ("fitted statistics: standardised training days (EWMA)", 0),
    }
    for gen, (what, n) in fitted.items():
        rows.append(
            {
                "generator": gen,
                "networks": what,
                "parameters_sampling": n,
                "parameters_trained": n,
                "selection": "none (closed form)",
                "train_seconds": None,
                "fit_seconds": None,
                "conditioning": "none"
                if gen == "normal"
                else "current EWMA volatility of the history",
                "calibration": calibration.get(gen, "none"),
                "tuning_trials": 0,
            }
        )
    columns = [c for c in BUDGET_COLUMNS if wall_times or c not in WALL_TIME_COLUMNS]
    table = pd.DataFrame(rows).reindex(columns=columns)
    counts = ["epoch_budget", "patience", "epochs_run", "epoch_selected"]
    return table.astype({c: "Int64" for c in counts})


def budget_markdown(table: pd.DataFrame) -> str:
    """The budget table as Markdown, with "–" where a column does not apply."""
    return markdown_table(table.astype(object).where(table.notna(), "–"))


def budget_caption(table: pd.DataFrame) -> str:
    """One-line caption of the budget table, with the parameter ratio to the diffusion model."""
    rows = table.set_index("generator")
    base = rows.loc["diffusion", "parameters_sampling"] if "diffusion" in rows.index else None
    ratios = ", ".join(
        f"{g} {rows.loc[g, 'parameters_sampling'] / base:.2f}×"
        for g in ("gan", "vae")
        if base and g in rows.index
    )
    text = (
        "Budgets of the stress generators, read from the checkpoints, training records and "
        "the sets' metadata (parameters per network; epochs"
        + ("; training time" if "train_seconds" in table.columns else "")
        + "; conditioning; per-request calibration; tuning trials)"
    )
    return text + (
        f"; generating-network size relative to the diffusion model: {ratios}." if ratios else "."
    )
