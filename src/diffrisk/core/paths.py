"""Every file location of the study, built on the project root."""

from __future__ import annotations

import os
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("DIFFRISK_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd().resolve(), Path(__file__).resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "dvc.yaml").is_file() and (candidate / "src" / "diffrisk").is_dir():
                return candidate
    # Installed (non-editable) package used outside a checkout: fall back to cwd.
    return Path.cwd().resolve()


def project_root() -> Path:
    """Return the project root (re-read on every call so tests can redirect it)."""
    return _find_root()


def params_file() -> Path:
    """Return ``params.yaml``."""
    return project_root() / "params.yaml"


def data_dir() -> Path:
    """Return ``data/``."""
    return project_root() / "data"


def raw_prices_file() -> Path:
    """Return the raw price snapshot ``data/raw/prices.parquet``."""
    return data_dir() / "raw" / "prices.parquet"


def returns_file() -> Path:
    """Return the processed log returns ``data/processed/returns.parquet``."""
    return data_dir() / "processed" / "returns.parquet"


def forecasts_dir() -> Path:
    """Return ``data/forecasts/``."""
    return data_dir() / "forecasts"


def forecast_file(method: str) -> Path:
    """Return ``data/forecasts/<method>.parquet``."""
    return forecasts_dir() / f"{method}.parquet"


def scenarios_file(method: str) -> Path:
    """Return ``data/forecasts/<method>_scenarios.npz`` (raw predictive scenarios)."""
    return forecasts_dir() / f"{method}_scenarios.npz"


def backtests_dir() -> Path:
    """Return ``data/backtests/``: the backtest tables at full precision (stage interface)."""
    return data_dir() / "backtests"


def models_dir() -> Path:
    """Return ``models/`` (checkpoints, Optuna storage, best parameters)."""
    return project_root() / "models"


def reports_dir() -> Path:
    """Return ``reports/``."""
    return project_root() / "reports"


def tables_dir() -> Path:
    """Return ``reports/tables/``."""
    return reports_dir() / "tables"


def figures_dir() -> Path:
    """Return ``reports/figures/``."""
    return reports_dir() / "figures"


def paper_figures_dir() -> Path:
    """Return ``reports/figures/paper/``: the paper's Figures 1-3 of every headline series."""
    return figures_dir() / "paper"


def metrics_dir() -> Path:
    """Return ``reports/metrics/``."""
    return reports_dir() / "metrics"


def plots_dir() -> Path:
    """Return ``reports/plots/``: the data of the figures DVC renders (``dvc plots show``)."""
    return reports_dir() / "plots"


def notebooks_dir() -> Path:
    """Return ``notebooks/`` (the committed, output-stripped notebooks)."""
    return project_root() / "notebooks"


def executed_notebooks_dir() -> Path:
    """Return ``reports/notebooks/`` (executed copies, stage outputs)."""
    return reports_dir() / "notebooks"


def ddpm_checkpoint() -> Path:
    """Return the trained DDPM checkpoint ``models/ddpm.pt``."""
    return models_dir() / "ddpm.pt"


def ensemble_checkpoint(member: int) -> Path:
    """Return ``models/ddpm_ens/member_<k>.pt`` (member 0 is ``models/ddpm.pt``)."""
    if int(member) == 0:
        return ddpm_checkpoint()
    return models_dir() / "ddpm_ens" / f"member_{int(member)}.pt"


def ensemble_audit() -> Path:
    """Return ``models/ddpm_ens.audit.json``: provenance of the members k >= 1.

    ``{"members": [record, ...]}``, outside ``models/ddpm_ens/`` (the folder the
    ``generate`` stage reads), so that the time a record carries does not make that stage
    stale.
    """
    return models_dir() / "ddpm_ens.audit.json"


def walk_forward_checkpoint(version: int) -> Path:
    """Return ``models/ddpm_wf/version_<k>.pt`` (version 0 is ``models/ddpm.pt``)."""
    if int(version) == 0:
        return ddpm_checkpoint()
    return models_dir() / "ddpm_wf" / f"version_{int(version)}.pt"


def rehearsal_dir() -> Path:
    """Return ``models/rehearsal/``: the nested-validation stage's member checkpoints."""
    return models_dir() / "rehearsal"


def selection_file() -> Path:
    """Return ``reports/metrics/selection.json`` (the nested-validation decisions)."""
    return metrics_dir() / "selection.json"


def best_params_file() -> Path:
    """Return ``models/best_params.yaml`` (written by the tune stage, read by train)."""
    return models_dir() / "best_params.yaml"


# --------------------------------------------------------------------------- stages
def stress_dir() -> Path:
    """``data/stress/``: the scenario sets and their metadata."""
    return data_dir() / "stress"


def stress_checkpoint() -> Path:
    """``models/stress.pt``: the trained stress generator."""
    return models_dir() / "stress.pt"


def scenario_set_file(generator: str, archetype: str) -> Path:
    """``data/stress/<generator>_<archetype>.npz``."""
    return stress_dir() / f"{generator}_{archetype}.npz"


def stress_walk_forward_dir() -> Path:
    """``models/stress_wf/``: the stress model's walk-forward versions."""
    return models_dir() / "stress_wf"


def stress_walk_forward_checkpoint(version: int) -> Path:
    """``models/stress_wf/version_<k>.pt`` (version 0 is ``models/stress.pt``)."""
    if int(version) == 0:
        return stress_checkpoint()
    return stress_walk_forward_dir() / f"version_{int(version)}.pt"


def stress_stratified_checkpoint() -> Path:
    """``models/stress_stratified.pt``: the stress model trained with stratified windows."""
    return models_dir() / "stress_stratified.pt"


def stress_members_dir() -> Path:
    """``models/stress_members/``: the independent stress diffusion members of the audit."""
    return models_dir() / "stress_members"


def stress_member_checkpoint(member: int) -> Path:
    """``models/stress_members/member_<k>.pt`` (k >= 1; member 0 is ``models/stress.pt``)."""
    if int(member) < 1:
        raise ValueError(f"member must be >= 1 (member 0 is models/stress.pt), got {member!r}")
    return stress_members_dir() / f"member_{int(member)}.pt"


def comparison_checkpoint(kind: str) -> Path:
    """``models/stress_<kind>.pt``: a comparison generator of the stress model (gan, vae)."""
    if kind not in ("gan", "vae"):
        raise ValueError(f"kind must be 'gan' or 'vae', got {kind!r}")
    return models_dir() / f"stress_{kind}.pt"
