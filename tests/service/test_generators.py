"""The generator registry over the pipeline's outputs."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from diffrisk.diffusion.checkpoints import read_checkpoint, save_checkpoint
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.service.generators import load_registry
from diffrisk.service.records import Draw, PipelineOutputsMissing
from tests.service.conftest import GUIDANCE


def registry(pipeline, **kw):
    return load_registry(
        kw.get("models", pipeline["models"]),
        pipeline["returns"],
        kw.get("stress", pipeline["stress"]),
        1.25,
    )


def test_registry_serves_the_checkpoint_and_the_baselines(pipeline):
    reg = registry(pipeline)
    diff = reg.get("diffusion")
    assert reg.get("diffusion", diff.version) is diff and len(diff.version) == 12
    assert diff.info["checkpoint_sha256"].startswith(diff.version)
    assert list(reg.returns.columns) == ["A0", "A1", "A2", "A3"]  # 'portfolio' dropped
    assert {a: r.guidance for a, r in reg.archetypes.items()} == GUIDANCE
    assert reg.archetypes["unconditional"].prior_neighbours == 20
    assert reg.get("normal").version == registry(pipeline).get("normal").version
    with pytest.raises(KeyError, match="unknown model version"):
        reg.get("diffusion", "f" * 12)
    with pytest.raises(KeyError, match="unknown generator"):
        reg.get("gan")


def test_samples_are_seeded(pipeline):
    reg = registry(pipeline)
    for name in ("diffusion", "normal", "bootstrap"):
        g = reg.get(name)
        draw = Draw(
            {"vol_ratio": 2.0} if g.conditioned else {},
            "2004-03-01",
            6,
            4,
            1.5 if g.guided else None,
        )
        a, cond = g.sample(draw)
        b, _ = g.sample(draw)
        assert a.shape == (6, 10, 4) and a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
        assert cond["portfolio_vol"] > 0


def test_missing_pipeline_outputs_are_reported(pipeline, tmp_path):
    with pytest.raises(PipelineOutputsMissing, match="stress.pt does not exist"):
        registry(pipeline, models=tmp_path)
    stress = tmp_path / "stress"
    shutil.copytree(pipeline["stress"], stress)
    (stress / "index.json").unlink()
    with pytest.raises(PipelineOutputsMissing, match="index.json does not exist"):
        registry(pipeline, stress=stress)


def test_sidecars_of_another_checkpoint_fall_back_to_the_default_guidance(pipeline, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(pipeline["models"], models)
    # another checkpoint: one weight changed (the identity is the weights, not the file)
    payload = read_checkpoint(models / "stress.pt")
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name] = payload["state_dict"][name] + 1e-3
    save_checkpoint(models / "stress.pt", payload)
    reg = registry(pipeline, models=models)
    assert {r.guidance for r in reg.archetypes.values()} == {1.25}
    assert "service default" in reg.archetypes["crash"].source


def test_a_rerun_with_the_same_weights_keeps_the_sidecars(pipeline, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(pipeline["models"], models)
    payload = read_checkpoint(models / "stress.pt")
    payload["wall_time_note"] = [12.5, 7.25]  # what a rerun changes: timings, not weights
    save_checkpoint(models / "stress.pt", payload)
    reg = registry(pipeline, models=models)
    assert {r.guidance for r in reg.archetypes.values()} == set(GUIDANCE.values())


def test_a_gan_checkpoint_joins_the_registry_and_draws_what_the_stress_layer_draws(
    pipeline, tmp_path
):
    """GAN/VAE are served when their checkpoints exist: same paths as comparison_paths."""
    import torch

    from diffrisk.core import io
    from diffrisk.stress.comparison import save_comparison_model
    from diffrisk.stress.comparison_sets import comparison_paths
    from tests.stress.conftest import TRAIN_END, smoke_comparison_generator, synthetic_returns

    torch.set_num_threads(1)
    models = tmp_path / "models"
    shutil.copytree(pipeline["models"], models)
    returns = synthetic_returns()
    gan = smoke_comparison_generator("gan", returns, seed=5)
    ckpt = save_comparison_model(gan, models / "stress_gan.pt")
    io.write_json(models / "stress_gan.audit.json", {"outputs": {"best_epoch": 1}})
    reg = registry(pipeline, models=models)
    g = reg.get("gan")
    assert g.conditioned and not g.guided and g.version == weights_sha256(ckpt)[:12]
    assert g.info["model_version"].startswith(f"gan@fit_end={TRAIN_END}#")
    assert g.info["validation"] == {"best_epoch": 1}
    draw = Draw({"vol_ratio": 2.0}, "2004-03-01", 6, 4, None)
    served, cond = g.sample(draw)
    direct, _ = comparison_paths(gan, returns, ["2004-03-01"], 6, {"vol_ratio": 2.0}, seed=4)
    np.testing.assert_array_equal(served, direct)
    assert cond["as_of"] == "2004-03-01"
    with pytest.raises(KeyError, match="unknown generator"):
        reg.get("vae")


def test_gan_archetype_draws_use_the_pipeline_calibrated_conditioning_gain(pipeline, tmp_path):
    """An archetype request to the GAN draws at the gain stress_generate calibrated for it.

    The gain applies only to the checkpoint it was calibrated with; an explicit signature
    and an archetype whose set came from other weights are drawn at gain 1, and the
    resolved request says where its gain came from.
    """
    import torch

    from diffrisk.core import io
    from diffrisk.service.resolve import resolve_request
    from diffrisk.service.schemas import ScenarioRequest
    from diffrisk.stress.comparison import save_comparison_model
    from diffrisk.stress.comparison_sets import calibrate_gain, comparison_paths
    from tests.stress.conftest import smoke_comparison_generator, synthetic_returns

    torch.set_num_threads(1)
    models, stress = tmp_path / "models", tmp_path / "stress"
    shutil.copytree(pipeline["models"], models)
    shutil.copytree(pipeline["stress"], stress)
    returns = synthetic_returns()
    gan = smoke_comparison_generator("gan", returns, seed=5)
    sha = weights_sha256(save_comparison_model(gan, models / "stress_gan.pt"))
    io.write_json(models / "stress_gan.audit.json", {"outputs": {"best_epoch": 1}})
    for name, ckpt, gain in (("crash", sha, 2.5), ("volatility_x2", "0" * 64, 3.0)):
        io.write_json(
            stress / f"gan_{name}.audit.json",
            {"checkpoint_sha256": ckpt, "generation": {"conditioning_gain": gain}},
        )
    reg = registry(pipeline, models=models, stress=stress)
    assert reg.archetypes["crash"].gains == {"gan": 2.5}
    assert reg.archetypes["volatility_x2"].gains == {}  # calibrated with other weights
    assert reg.archetypes["crash"].public()["conditioning_gain"] == {"gan": 2.5}

    def resolve(**body):
        return resolve_request(ScenarioRequest(generator="gan", n_paths=6, **body), reg, 100, 1.0)

    res = resolve(archetype="crash", seed=4)
    assert res.draw.gain == 2.5 and res.canonical["conditioning_gain"] == 2.5
    assert "pipeline-calibrated" in res.guidance_source and res.draw.guidance is None
    served, cond = reg.get("gan").sample(res.draw)
    signature = dict(reg.archetypes["crash"].signature)
    direct, _ = comparison_paths(gan, returns, ["2004-03-01"], 6, signature, seed=4, gain=2.5)
    np.testing.assert_array_equal(served, direct)
    assert cond["conditioning_gain"] == 2.5
    at_one, _ = comparison_paths(gan, returns, ["2004-03-01"], 6, signature, seed=4)
    assert not np.array_equal(served, at_one)
    other = resolve(archetype="volatility_x2", seed=4)
    assert other.draw.gain == 1.0 and "did not calibrate" in other.guidance_source
    explicit = resolve(signature={"vol_ratio": 2.0}, seed=4)
    assert explicit.draw.gain == 1.0 and reg.get("gan").info["gain_calibration"] is None
    diffusion = resolve_request(ScenarioRequest(archetype="crash", n_paths=6), reg, 100, 1.0)
    assert diffusion.canonical["conditioning_gain"] is None

    # the stage calibrated its GAN sets: requests it did not calibrate get a gain by its rule
    params = {"comparison_calibration": "auto", "guidance_grid": "1,2,4", "calibration_paths": 8}
    io.write_json(
        stress / "gan_crash.audit.json",
        {"checkpoint_sha256": sha, "generation": {"conditioning_gain": 2.5}, "params": params},
    )
    reg = registry(pipeline, models=models, stress=stress)
    assert reg.get("gan").info["gain_calibration"] == {
        "grid": [1.0, 2.0, 4.0],
        "n_paths_per_date": 8,
        "refine": 0,  # a record without calibration_refine: the grid only
    }
    for body, source in (
        ({"signature": {"vol_ratio": 2.0}}, "calibrated for this request"),
        ({"archetype": "volatility_x2"}, "calibrated for this request"),  # set of other weights
    ):
        res = resolve(seed=4, **body)
        assert res.draw.gain is None and source in res.guidance_source
        assert res.canonical["conditioning_gain"] == "calibrated per request"
        served, cond = reg.get("gan").sample(res.draw)
        gain, record = calibrate_gain(
            gan,
            returns,
            [res.draw.as_of],
            res.draw.signature,
            seed=4,
            grid=(1, 2, 4),
            n_paths_per_date=8,
        )
        assert record["grid"] == [1.0, 2.0, 4.0] and record["seed"] == 5
        direct, _ = comparison_paths(
            gan, returns, [res.draw.as_of], 6, res.draw.signature, seed=4, gain=gain
        )
        np.testing.assert_array_equal(served, direct)
        assert cond["conditioning_gain"] == gain
    assert resolve(archetype="crash", seed=4).draw.gain == 2.5  # the recorded gain still wins

    # calibration_refine in the stage's params: the service refines by the same rule
    io.write_json(
        stress / "gan_crash.audit.json",
        {
            "checkpoint_sha256": sha,
            "generation": {"conditioning_gain": 2.5},
            "params": {**params, "calibration_refine": 2},
        },
    )
    reg = registry(pipeline, models=models, stress=stress)
    assert reg.get("gan").info["gain_calibration"]["refine"] == 2
    res = resolve(signature={"vol_ratio": 2.0}, seed=4)
    served, cond = reg.get("gan").sample(res.draw)
    gain, record = calibrate_gain(
        gan, returns, [res.draw.as_of], res.draw.signature, seed=4, grid=(1, 2, 4),
        n_paths_per_date=8, refine=2,
    )  # fmt: skip
    assert len(record["refined"]) == 2 and cond["conditioning_gain"] == gain
