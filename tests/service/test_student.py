"""A distilled stress student served beside its teacher (``diffusion_student``)."""

from __future__ import annotations

import io
import json
import shutil
import warnings

import numpy as np
import pytest
import torch

from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.service.app import build_asgi
from diffrisk.service.cli import EXIT_BAD_SETTINGS, main
from diffrisk.service.generators import load_registry
from diffrisk.service.records import Draw, PipelineOutputsMissing
from diffrisk.service.settings import ServiceSettings
from diffrisk.service.student import StudentMismatch, pipeline_student, student_generator
from diffrisk.stress.distill import (
    DistillConfig,
    distill_stress_model,
    load_student,
    save_student,
    student_sampler,
)
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.sampling import generate_paths
from tests.service.conftest import GUIDANCE, make_settings
from tests.stress.conftest import VAL_END, VAL_START

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TINY = DistillConfig(
    start_steps=4, final_steps=2, lr=2e-3, batch_size=64,
    guidance_epochs=1, round_epochs=1, patience=1,
)  # fmt: skip


def distil(pipeline, path, teacher_sha256):
    """A (poor, fast) 2-step student of the toy pipeline's checkpoint, saved at ``path``."""
    torch.set_num_threads(1)
    reg = load_registry(pipeline["models"], pipeline["returns"], pipeline["stress"], 1.25)
    teacher = load_stress_model(pipeline["models"] / "stress.pt")
    student = distill_stress_model(
        teacher, reg.returns, VAL_START, VAL_END, TINY, seed=5, teacher_sha256=teacher_sha256
    )
    return save_student(student, path), reg


@pytest.fixture(scope="module")
def served(pipeline, tmp_path_factory):
    """The toy pipeline's registry and a student distilled from its own checkpoint."""
    sha = weights_sha256(pipeline["models"] / "stress.pt")
    path, reg = distil(pipeline, tmp_path_factory.mktemp("student") / "student.pt", sha)
    return path, reg


def test_the_student_draws_what_its_sampler_draws_with_the_teacher_guidance(served):
    path, reg = served
    teacher = reg.get("diffusion")
    gen = student_generator(path, teacher, reg.returns)
    reg.add(gen)
    assert reg.get("diffusion_student") is gen and reg.get("diffusion") is teacher
    assert gen.guided and gen.conditioned and gen.kind == "diffusion"
    assert gen.version == weights_sha256(path)[:12] and gen.horizon == teacher.horizon
    student = load_student(path)
    info = gen.info
    assert info["model_version"].startswith("stress_student2@fit_end=")
    assert info["sampling"]["steps"] == [int(s) for s in student.steps]
    assert set(info["sampling"]) == {
        "sampler", "n_steps", "steps", "teacher_version", "teacher_weights_sha256",
    }  # fmt: skip
    assert info["sampling"]["teacher_weights_sha256"] == teacher.info["checkpoint_sha256"]
    assert info["distillation"]["config"]["final_steps"] == 2
    draw = Draw({"vol_ratio": 2.0}, "2004-03-01", 6, 4, 1.5)
    paths_, record = gen.sample(draw)
    expected, _ = generate_paths(
        student.model,
        reg.returns,
        ["2004-03-01"],
        6,
        {"vol_ratio": 2.0},
        guidance=1.5,
        seed=4,
        scaled_sampler=student_sampler(student),
    )
    np.testing.assert_array_equal(paths_, expected)
    assert record["sampling"]["sampler"] == "student" and record["sampling"]["n_steps"] == 2
    teacher_paths, _ = teacher.sample(draw)
    assert not np.array_equal(paths_, teacher_paths)  # a different sampler, same request
    with pytest.raises(ValueError, match="already served"):
        reg.add(gen)


def test_a_student_of_another_teacher_or_no_student_is_refused(pipeline, served, tmp_path):
    _, reg = served
    teacher = reg.get("diffusion")
    other, _ = distil(pipeline, tmp_path / "other.pt", "ab" * 32)
    with pytest.raises(StudentMismatch, match=r"other\.pt was distilled from teacher weights abab"):
        student_generator(other, teacher, reg.returns)
    with pytest.raises(StudentMismatch, match="not a stress-student checkpoint"):
        student_generator(pipeline["models"] / "stress.pt", teacher, reg.returns)
    with pytest.raises(PipelineOutputsMissing, match="stress_student=.*missing.pt: no such"):
        student_generator(tmp_path / "missing.pt", teacher, reg.returns)
    code = main(
        [
            "--models-dir", str(pipeline["models"]), "--returns-file", str(pipeline["returns"]),
            "--stress-dir", str(pipeline["stress"]), "--store-dir", str(tmp_path / "store"),
            "--db-url", f"sqlite:///{tmp_path / 'a.db'}", "--stress-student", str(other),
        ]
    )  # fmt: skip
    assert code == EXIT_BAD_SETTINGS


def test_the_service_serves_the_student_only_when_asked(pipeline, served, tmp_path):
    path, _ = served
    plain = make_settings(pipeline, tmp_path / "s0", f"sqlite:///{tmp_path / 'a0.db'}")
    with TestClient(build_asgi(plain)) as c:
        names = {g["generator"] for g in c.get("/models").json()["generators"]}
        assert "diffusion_student" not in names
    settings = make_settings(
        pipeline, tmp_path / "s1", f"sqlite:///{tmp_path / 'a1.db'}", stress_student=path
    )
    asgi = build_asgi(settings)
    with TestClient(asgi) as c:
        models = {g["generator"]: g for g in c.get("/models").json()["generators"]}
        assert models["diffusion_student"]["sampling"]["n_steps"] == 2
        body = {"generator": "diffusion_student", "archetype": "volatility_x2", "n_paths": 16}
        out = c.post("/scenarios", json=body, headers={"X-Requester": "bob"})
        assert out.status_code == 200, out.text
        meta = out.json()["metadata"]
        assert meta["generator"] == "diffusion_student"
        assert meta["guidance"] == GUIDANCE["volatility_x2"]  # the teacher's calibrated weight
        assert meta["conditioning"]["sampling"]["sampler"] == "student"
        npz = c.get(f"/scenarios/{out.json()['id']}/paths").content
        with np.load(io.BytesIO(npz)) as z:
            assert np.isfinite(z["paths"]).all() and z["paths"].shape[0] == 16
    asgi.app.state.service.log.close()


def test_the_student_setting_reads_a_path_from_the_environment(tmp_path):
    env = {"DIFFRISK_STRESS_STUDENT": str(tmp_path / "s.pt")}
    assert ServiceSettings.from_env(env).stress_student == tmp_path / "s.pt"
    assert ServiceSettings.from_env({}).stress_student is None


def test_the_pipelines_student_is_served_when_its_rule_chose_it(pipeline, served, tmp_path):
    path, _ = served
    models = tmp_path / "models"
    shutil.copytree(pipeline["models"], models)
    assert pipeline_student(models) is None  # a pipeline from before the stage
    folder = models / "stress_student"
    folder.mkdir()
    (folder / "decision.json").write_text(json.dumps({"enabled": False, "sampler": "teacher"}))
    assert pipeline_student(models) is None
    (folder / "decision.json").write_text(json.dumps({"enabled": True, "sampler": "student"}))
    with pytest.raises(PipelineOutputsMissing, match="chose the student, but .*student.pt"):
        pipeline_student(models)
    shutil.copy(path, folder / "student.pt")
    assert pipeline_student(models) == folder / "student.pt"
    settings = make_settings(
        {**pipeline, "models": models}, tmp_path / "s", f"sqlite:///{tmp_path / 'a.db'}"
    )
    asgi = build_asgi(settings)
    with TestClient(asgi) as c:
        models_served = {g["generator"]: g for g in c.get("/models").json()["generators"]}
        assert models_served["diffusion_student"]["sampling"]["n_steps"] == 2
        assert "diffusion" in models_served
    asgi.app.state.service.log.close()
