"""Tests of diffrisk.service.reverse_stress on a bare FastAPI app over the toy pipeline."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from diffrisk.service.reverse_stress import configure, router


@pytest.fixture(scope="module")
def client(pipeline):
    app = FastAPI()
    configure(app, pipeline["models"] / "stress.pt", pipeline["returns"], "g1=A0,A1; g2=A2")
    app.include_router(router)
    return TestClient(app)


def test_answer_reaches_the_loss_and_carries_audit_metadata(client):
    body = {"weights": [0.25] * 4, "total": 1.0, "es_alpha": 0.05, "n_paths": 64, "seed": 2}
    r = client.post("/reverse-stress", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["loss_level"] > 0 and out["horizon"] == 10
    rows = {row["method"]: row for row in out["methods"]}
    assert set(rows) == {"diffusion", "normal", "student_t", "historical"}
    for name, best in out["most_plausible"].items():
        assert best["loss"] >= out["loss_level"] * (1 - 1e-9), name
        assert sum(best["contributions"].values()) == pytest.approx(best["loss"])
        assert len(best["returns"]) == 10 and len(best["returns"][0]) == 4
    assert rows["diffusion"]["share_reaching"] >= 0.95
    meta = out["audit"]
    assert meta["model_version"].startswith("stress@fit_end=")
    assert len(meta["checkpoint_sha256"]) == 64 and len(meta["data_sha256"]) == 64
    assert meta["params"]["weights"] == [0.25] * 4 and meta["seed"] == 2
    for key in ("package_version", "git_revision", "utc_timestamp"):
        assert key in meta
    again = client.post("/reverse-stress", json=body).json()
    assert again["methods"] == out["methods"]  # deterministic given the seed


def test_vine_copula_is_answered_on_request(client):
    body = {"weights": [0.25] * 4, "loss": 0.03, "n_paths": 64, "seed": 1}
    body["methods"] = ["normal", "vine_copula"]
    r = client.post("/reverse-stress", json=body)
    assert r.status_code == 200, r.text
    rows = {row["method"]: row for row in r.json()["methods"]}
    assert set(rows) == {"normal", "vine_copula"}
    vine = rows["vine_copula"]
    assert vine["n_scenarios"] > 0 and vine["share_reaching"] >= 0.95
    assert 0 < vine["p_lower"] <= vine["p"] <= vine["p_upper"] < 1
    best = r.json()["most_plausible"]["vine_copula"]
    assert best["loss"] >= 0.03 * (1 - 1e-9)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weights": [0.5, 0.5]}, "weights"),
        ({"weights": [0.3, 0.3, 0.3, 0.3], "total": 1.0}, "weights"),
        ({"horizon": 11}, "horizon"),
        ({"loss": 2.0, "es_alpha": None}, "loss"),
        ({"methods": ["oracle"]}, "methods"),
        ({"as_of": "not a date"}, "as_of"),
    ],
)
def test_bad_requests_are_422_naming_the_field(client, change, field):
    body = {"weights": [0.25] * 4, "total": 1.0, "es_alpha": 0.05, "n_paths": 32} | change
    r = client.post("/reverse-stress", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == f"body.{field}"


def test_unconfigured_app_is_503():
    app = FastAPI()
    app.include_router(router)
    r = TestClient(app).post("/reverse-stress", json={"weights": [1.0], "loss": 0.1})
    assert r.status_code == 503
