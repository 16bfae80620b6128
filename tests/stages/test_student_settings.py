"""Tests of diffrisk.stages.student_settings: the students' recipe."""

import pytest

from diffrisk.stages.student_settings import student_config

SAMPLING = {"sampler": "ddim", "n_steps": 20, "eta": 0.0, "spacing": "logsnr", "order": 2}


def test_a_trajectory_student_learns_the_pipelines_own_sampler():
    config = student_config({"trajectory": True, "final_steps": 3}, SAMPLING)
    assert (config.start_steps, config.spacing, config.teacher_order) == (20, "logsnr", 2)
    assert config.final_steps == 3 and config.trajectory
    # a progressive student keeps its own first grid
    plain = student_config({"start_steps": 64, "final_steps": 4}, SAMPLING)
    assert (plain.start_steps, plain.teacher_order) == (64, 2) and not plain.trajectory


def test_bad_settings_name_the_key():
    with pytest.raises(ValueError, match=r"distill\.student sets \['spacing', 'start_steps'\]"):
        student_config({"trajectory": True, "start_steps": 8, "spacing": "linear"}, SAMPLING)
    with pytest.raises(ValueError, match="deterministic DDIM"):
        student_config({"trajectory": True}, {**SAMPLING, "eta": 0.5})
    with pytest.raises(ValueError, match="deterministic DDIM"):
        student_config({"trajectory": True}, {**SAMPLING, "sampler": "ddpm"})
    with pytest.raises(ValueError, match="unknown ddpm_distill parameters"):
        student_config({"trajectory": True, "steps": 3}, SAMPLING)
