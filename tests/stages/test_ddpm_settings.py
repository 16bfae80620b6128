"""'auto' settings resolve to the select stage's decisions, and only those."""

import json

import pytest

from diffrisk.core import paths
from diffrisk.stages.common import load_selection, primary_method
from diffrisk.stages.ddpm_settings import ddpm_config, sampler_settings
from tests.conftest import params_section

DDPM = params_section("ddpm")
GENERATE = params_section("generate")


def write_selection(**decisions):
    paths.metrics_dir().mkdir(parents=True, exist_ok=True)
    paths.selection_file().write_text(json.dumps(decisions))


def test_auto_takes_the_selection(project_tmp):
    write_selection(final_refit=False, n_steps=20, order=1, primary_method="ddpm_wf")
    config, tuned = ddpm_config({**DDPM, "final_refit": "auto"}, use_tuned=False)
    assert config.final_refit is False and tuned == {}
    settings = sampler_settings({**GENERATE, "n_steps": "auto", "order": "auto"})
    assert (settings["n_steps"], settings["order"]) == (20, 1)
    assert primary_method() == "ddpm_wf"


def test_explicit_values_ignore_the_selection(project_tmp):
    write_selection(final_refit=False, n_steps=20, order=1)
    config, _ = ddpm_config({**DDPM, "final_refit": True}, use_tuned=False)
    assert config.final_refit is True
    assert sampler_settings({**GENERATE, "n_steps": 10, "order": 2})["n_steps"] == 10
    fixed, _ = ddpm_config({**DDPM, "final_refit": "auto"}, use_tuned=False, final_refit=True)
    assert fixed.final_refit is True


def test_auto_without_selection_names_the_stage(project_tmp):
    with pytest.raises(FileNotFoundError, match="run the select stage first"):
        ddpm_config({**DDPM, "final_refit": "auto"}, use_tuned=False)
    with pytest.raises(FileNotFoundError, match="selection.json does not exist"):
        load_selection()


def test_selection_without_the_decision_is_an_error(project_tmp):
    write_selection(primary_method="ddpm")
    with pytest.raises(ValueError, match="generate.order is 'auto' but .* has no 'order'"):
        sampler_settings({**GENERATE, "n_steps": 10, "order": "auto"})


def test_final_refit_must_be_boolean(project_tmp):
    with pytest.raises(ValueError, match="final_refit must be true or false"):
        ddpm_config({**DDPM, "final_refit": "yes"}, use_tuned=False)
