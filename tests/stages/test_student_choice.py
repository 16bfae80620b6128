"""Tests of diffrisk.stages.student_choice: the pipeline's choice of sampler, the paths."""

import json

import pytest

from diffrisk.stages.student_choice import (
    static_student_checkpoint,
    student_checkpoint,
    use_student,
)


def _decision(root, sampler):
    (root / "reports" / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "reports" / "metrics" / "distill.json").write_text(json.dumps({"sampler": sampler}))


@pytest.mark.parametrize("sampler", ["student", "teacher"])
def test_auto_takes_the_distill_stages_decision_and_a_boolean_forces_it(project_tmp, sampler):
    _decision(project_tmp, sampler)
    assert use_student("auto") is (sampler == "student")
    assert use_student(True) is True and use_student(False) is False


def test_auto_without_a_decision_names_the_stage_to_run(project_tmp):
    with pytest.raises(ValueError, match=r"generate\.student is 'auto' but .*distill\.json is "
                       r"missing: run the distill stage"):  # fmt: skip
        use_student("auto")
    _decision(project_tmp, "both")
    with pytest.raises(ValueError, match=r"distill\.json: 'sampler' must be 'student' or "
                       r"'teacher', got 'both'"):  # fmt: skip
        use_student("auto")


@pytest.mark.parametrize("choice", ["yes", "student", 1, None])
def test_other_choices_name_the_key(project_tmp, choice):
    with pytest.raises(ValueError, match=r"generate\.student must be 'auto', true or false"):
        use_student(choice)


def test_version_and_member_zero_share_the_distill_stages_student(project_tmp):
    static = static_student_checkpoint()
    assert static == project_tmp / "models" / "ddpm_student.pt"
    assert student_checkpoint("wf", 0) == student_checkpoint("ens", 0) == static
    assert student_checkpoint("wf", 2) == project_tmp / "models/ddpm_wf/version_2_student.pt"
    assert student_checkpoint("ens", 1) == project_tmp / "models/ddpm_ens_student/member_1.pt"
    with pytest.raises(ValueError, match="kind must be 'wf' or 'ens'"):
        student_checkpoint("select", 1)
