"""The parts of stage ``stress_validate``: what a task receives, and the missing-input error.

The parts themselves (in process and as Dask tasks, byte-identical) run in the stress
stages' end-to-end test (``tests/stages/test_stress_generate.py``).
"""

from __future__ import annotations

import pytest

from diffrisk.data.splits import Splits
from diffrisk.stages.common import StressInputs
from diffrisk.stages.stress_validate_parts import PARTS, stage_settings
from tests.stages.conftest import write_stress_returns
from tests.stress.conftest import TEST_START, TRAIN_END, VAL_END, VAL_START

PARAMETERS = {
    "crisis_windows": "c1=2002-03-01/2002-09-30",
    "portfolios": "ew=all",
    "alphas": "0.05",
    "tolerance": 0.1,
    "n_boot": 10,
    "bootstrap_block": 5,
}


def test_without_the_generated_sets_the_error_names_the_stage_to_run(project_tmp):
    write_stress_returns()
    inputs = StressInputs(Splits.from_params(TRAIN_END, VAL_START, VAL_END, TEST_START), "sp500", 1)
    with pytest.raises(
        FileNotFoundError, match=r"index\.json does not exist: run the stress_generate"
    ):
        stage_settings(PARAMETERS, inputs)


def test_every_part_is_a_module_function_a_worker_can_import():
    names = [part.__name__ for part in PARTS]
    assert names == ["validation_part", "score_part", "risk_part", "figure_part"]
    assert all(part.__module__ == "diffrisk.stages.stress_validate_parts" for part in PARTS)
