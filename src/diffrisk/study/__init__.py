"""Study-level experiments: Optuna tuning (in process or on Dask) and the known-truth simulation."""

from diffrisk.study.simulation import (
    DEFAULT_PARAMS,
    SIM_SERIES,
    SIMULATION_COLUMNS,
    SIMULATION_TABLE,
    TRUE_METHOD,
    Runner,
    SimulationRun,
    simulate_forecasts,
    simulate_garch_t,
    true_forecasts,
)
from diffrisk.study.simulation_scoring import (
    default_runners,
    run_simulation,
    save_simulation_table,
    simulation_table,
)
from diffrisk.study.tuning import (
    DEFAULT_SPACE,
    base_trial_params,
    best_params_record,
    make_objective,
    run_study,
    study_name_for,
    suggest_config,
    trials_frame,
)
from diffrisk.study.tuning_dask import open_storage, run_study_on_dask

__all__ = [
    "DEFAULT_PARAMS",
    "DEFAULT_SPACE",
    "Runner",
    "SIMULATION_COLUMNS",
    "SIMULATION_TABLE",
    "SIM_SERIES",
    "SimulationRun",
    "TRUE_METHOD",
    "base_trial_params",
    "best_params_record",
    "default_runners",
    "make_objective",
    "open_storage",
    "run_simulation",
    "run_study",
    "run_study_on_dask",
    "save_simulation_table",
    "simulate_forecasts",
    "simulate_garch_t",
    "simulation_table",
    "study_name_for",
    "suggest_config",
    "trials_frame",
    "true_forecasts",
]
