"""Multivariate stress paths.

Config, windows, signatures, network, model, sampling, archetypes, scenario sets and the
comparison generators.
"""

from diffrisk.stress.archetypes import (
    Archetype,
    CrisisWindow,
    parse_archetypes,
    parse_crisis_windows,
    resolve_archetype,
)
from diffrisk.stress.config import GENERATORS, UNCONDITIONAL, StressConfig, StressRangeWarning
from diffrisk.stress.generators import filtered_block_bootstrap_paths, multivariate_normal_paths
from diffrisk.stress.model import (
    StressModel,
    load_stress_model,
    save_stress_model,
    train_stress_model,
)
from diffrisk.stress.network import FiLMBlock, StressDenoiser, StressSpec
from diffrisk.stress.sampling import draw_prior_signatures, generate_paths, sample_scaled_paths
from diffrisk.stress.scenario_sets import (
    DEFAULT_GUIDANCE_GRID,
    achieved_signatures,
    baseline_scenario_set,
    calibrate_guidance,
    generate_scenario_set,
    read_scenario_set,
    regenerate_scenario_set,
    write_scenario_set,
)
from diffrisk.stress.signatures import (
    N_HISTORY_SCALARS,
    RECENT_DAYS,
    SIGNATURE_COLUMNS,
    historical_signatures,
    out_of_range,
    signature_features,
    signature_range,
    stress_signature,
)
from diffrisk.stress.windows import (
    ConditioningInputs,
    WindowSet,
    conditioning_inputs,
    training_windows,
)

__all__ = [
    "Archetype",
    "ConditioningInputs",
    "CrisisWindow",
    "DEFAULT_GUIDANCE_GRID",
    "FiLMBlock",
    "GENERATORS",
    "N_HISTORY_SCALARS",
    "RECENT_DAYS",
    "SIGNATURE_COLUMNS",
    "StressConfig",
    "StressDenoiser",
    "StressModel",
    "StressRangeWarning",
    "StressSpec",
    "UNCONDITIONAL",
    "WindowSet",
    "achieved_signatures",
    "baseline_scenario_set",
    "calibrate_guidance",
    "conditioning_inputs",
    "draw_prior_signatures",
    "filtered_block_bootstrap_paths",
    "generate_paths",
    "generate_scenario_set",
    "historical_signatures",
    "load_stress_model",
    "multivariate_normal_paths",
    "out_of_range",
    "parse_archetypes",
    "parse_crisis_windows",
    "read_scenario_set",
    "regenerate_scenario_set",
    "resolve_archetype",
    "sample_scaled_paths",
    "save_stress_model",
    "signature_features",
    "signature_range",
    "stress_signature",
    "train_stress_model",
    "training_windows",
    "write_scenario_set",
]
