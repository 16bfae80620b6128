"""The HTTP API in-process (TestClient), against SQLite and PostgreSQL audit logs."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest

from diffrisk.risk.measures import cvar, var
from diffrisk.risk.portfolio import conditional_drawdown, portfolio_log_returns
from diffrisk.service.app import build_asgi
from tests.service.conftest import DATA_SHA, GUIDANCE, make_settings, rows_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "s3cret-token-0123456789"


@pytest.fixture
def client(pipeline, tmp_path, db_url):
    settings = make_settings(pipeline, tmp_path / "store", db_url)
    asgi = build_asgi(settings)
    with TestClient(asgi) as c:
        c.db_url, c.store = db_url, tmp_path / "store"
        yield c
    asgi.app.state.service.log.close()


def post(client, **body):
    return client.post("/scenarios", json=body, headers={"X-Requester": "alice"})


def test_health_and_models(client):
    assert client.get("/health").json()["status"] == "ok"
    m = client.get("/models").json()
    by_name = {g["generator"]: g for g in m["generators"]}
    assert set(by_name) == {"diffusion", "normal", "bootstrap"}
    diff = by_name["diffusion"]
    assert diff["horizon"] == 10 and diff["data_sha256"] == DATA_SHA
    assert diff["training_period"]["last"] == "2002-12-31"
    assert diff["validation"]["best_val_loss"] == pytest.approx(0.97)
    assert diff["sampling"]["n_steps"] == 5  # the pipeline's sampler settings
    assert by_name["normal"]["training_period"]["last"] == "2002-12-31"
    arch = {a["name"]: a for a in m["archetypes"]}
    assert {k: arch[k]["guidance"] for k in arch} == GUIDANCE  # calibrated weights reused


def test_scenarios_are_content_addressed_and_reproducible(pipeline, tmp_path, db_url, client):
    body = {"archetype": "crash", "n_paths": 64, "seed": 7, "horizon": 8}
    first = post(client, **body)
    assert first.status_code == 200, first.text
    out = first.json()
    assert len(out["id"]) == 64 and out["cached"] is False
    meta = out["metadata"]
    assert (
        meta["guidance"] == GUIDANCE["crash"] and "pipeline-calibrated" in meta["guidance_source"]
    )
    assert meta["conditioning"]["as_of"] == "2004-03-01"
    assert meta["conditioning"]["last_history"] == "2004-02-27"
    assert meta["data_sha256"] == DATA_SHA and meta["seed"] == 7
    assert {"torch", "numpy", "fastapi"} <= set(meta["library_versions"])
    assert meta["timestamps"]["generated_at"] and meta["out_of_range_flag"] in (True, False)
    again = post(client, **body).json()
    assert again["id"] == out["id"] and again["cached"] is True
    npz = client.get(f"/scenarios/{out['id']}/paths").content
    parquet = client.get(f"/scenarios/{out['id']}/paths?format=parquet").content
    # a separate store and log, same request: same id, byte-identical downloads
    other = make_settings(pipeline, tmp_path / "store2", f"sqlite:///{tmp_path / 'o.db'}")
    with TestClient(build_asgi(other)) as c2:
        fresh = post(c2, **body).json()
        assert fresh["id"] == out["id"] and fresh["cached"] is False
        assert c2.get(f"/scenarios/{out['id']}/paths").content == npz
        accept = {"Accept": "application/vnd.apache.parquet"}
        assert c2.get(f"/scenarios/{out['id']}/paths", headers=accept).content == parquet
    with np.load(io.BytesIO(npz)) as z:
        paths = z["paths"]
        assert list(z["assets"]) == ["A0", "A1", "A2", "A3"]
    assert paths.shape == (64, 8, 4) and paths.dtype == np.float32
    table = pd.read_parquet(io.BytesIO(parquet))
    assert len(table) == 64 * 8
    np.testing.assert_array_equal(table["A2"].to_numpy().reshape(64, 8), paths[:, :, 2])
    rows = [r for r in rows_of(db_url) if r["set_id"] == out["id"]]
    assert [r["status"] for r in rows] == ["completed", "completed"]
    assert sorted(r["cached"] for r in rows) == [False, True]


def test_risk_summary_equals_diffrisk_risk_on_the_paths(client):
    w = {"A0": 0.4, "A1": 0.3, "A2": 0.2, "A3": 0.1}
    out = post(client, generator="bootstrap", n_paths=400, seed=3, weights=w).json()
    with np.load(io.BytesIO(client.get(f"/scenarios/{out['id']}/paths").content)) as z:
        paths = z["paths"]
    daily = portfolio_log_returns(paths.astype(float), np.array(list(w.values())))
    total = daily.sum(axis=1)
    for row in out["risk_summary"]:
        a = row["alpha"]
        assert row["var"] == pytest.approx(float(var(total, a)), abs=1e-12)
        assert row["es"] == pytest.approx(float(cvar(total, a)), abs=1e-12)
        assert row["cdar"] == pytest.approx(float(cvar(conditional_drawdown(daily), a)), abs=1e-12)
        assert row["es"] <= row["var"] < 0
    assert [r["alpha"] for r in out["risk_summary"]] == [0.05, 0.01]
    fan = out["fan"]
    median = fan["quantiles"][fan["levels"].index(0.5)]
    assert median[0] == 0 and median[-1] == pytest.approx(np.median(total))
    got = client.get(f"/scenarios/{out['id']}").json()
    assert got["risk_summary"] == out["risk_summary"]


def test_explicit_signature_uses_the_default_guidance_and_flags_range(client):
    out = post(client, signature={"vol_ratio": 40.0}, n_paths=16).json()
    meta = out["metadata"]
    assert meta["guidance"] == 1.25 and "default" in meta["guidance_source"]
    assert meta["out_of_range"] == ["vol_ratio"] and meta["out_of_range_flag"] is True


@pytest.mark.parametrize(
    ("body", "status", "field", "allowed"),
    [
        ({"generator": "gan"}, 404, "body.generator", "bootstrap, diffusion, normal"),
        ({"model_version": "0123456789ab"}, 404, "body.model_version", "latest"),
        ({"archetype": "nope"}, 404, "body.archetype", "crash"),
        ({"horizon": 11}, 422, "body.horizon", "2 .. 10"),
        ({"n_paths": 5001}, 422, "body.n_paths", "1 .. 5000"),
        ({"weights": {"A0": 0.5, "A1": 0.4}}, 422, "body.weights", "sum of weights = 1"),
        ({"weights": {"ZZZ": 1.0}}, 422, "body.weights", "A0, A1, A2, A3"),
        ({"as_of": "1999-01-01"}, 422, "body.as_of", "2000-"),
        ({"as_of": "2030-01-01"}, 422, "body.as_of", ".. 2004-"),
        ({"generator": "normal", "guidance": 2.0}, 422, "body.guidance", "null"),
        (
            {"generator": "normal", "signature": {"vol_ratio": 2}},
            422,
            "body.signature",
            "conditioned",
        ),
    ],
)
def test_bad_requests_name_the_field_and_change_nothing(client, body, status, field, allowed):
    r = post(client, **body)
    assert r.status_code == status, r.text
    item = r.json()["detail"][0]
    assert item["field"] == field and allowed in str(item["allowed"])
    client.app.state.service.rejections.flush()
    (row,) = rows_of(client.db_url)  # recorded as refused, nothing drawn
    assert row["status"] == "rejected" and row["request"]["http_status"] == status
    assert row["requester"] == "alice" and field in row["error"] and row["set_id"] == ""
    assert not any((client.store / "sets").iterdir())


@pytest.mark.parametrize(
    ("body", "field", "bound"),
    [
        ({"n_paths": 0}, "body.n_paths", "ge"),
        ({"seed": -1}, "body.seed", "ge"),
        ({"horizon": 1}, "body.horizon", "ge"),
        ({"signature": {"avg_corr": 1.5}}, "body.signature.avg_corr", "le"),
        ({"archetype": "../x"}, "body.archetype", "pattern"),
        ({"colour": "red"}, "body.colour", None),
        ({"n_paths": True}, "body.n_paths", None),  # strict: a bool is not a count
        ({"seed": "5"}, "body.seed", None),
        ({"weights": {"A0": True}}, "body.weights.A0", None),
    ],
)
def test_malformed_fields_get_422_naming_them(client, body, field, bound):
    r = post(client, **body)
    assert r.status_code == 422
    item = r.json()["detail"][0]
    assert item["field"] == field
    if bound:
        assert bound in item["allowed"]


def test_oversized_bodies_ids_and_requester_are_validated(client):
    big = b'{"seed": 1' + b" " * 70_000 + b"}"
    r = client.post("/scenarios", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "65536" in r.json()["detail"][0]["allowed"]
    for bad in ("..%2F..%2Fetc%2Fpasswd", "A" * 64, "0" * 63):
        assert client.get(f"/scenarios/{bad}").status_code in (404, 422)
        assert client.get(f"/scenarios/{bad}/paths").status_code in (404, 422)
    r = client.get(f"/scenarios/{'0' * 64}")
    assert r.status_code == 404 and r.json()["detail"][0]["field"] == "path.set_id"
    r = client.post("/scenarios", json={}, headers={"X-Requester": "bob smith"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "header.x-requester"
    assert client.get("/scenarios/" + "0" * 64 + "/paths?format=csv").status_code == 422


def test_audit_filters(client):
    post(client, generator="normal", n_paths=8)
    client.post(
        "/scenarios",
        json={"generator": "bootstrap", "n_paths": 8},
        headers={"X-Requester": "carol"},
    )
    rows = client.get("/audit").json()["rows"]
    assert [r["generator"] for r in rows] == ["bootstrap", "normal"]
    assert client.get("/audit?requester=carol").json()["count"] == 1
    assert client.get("/audit?generator=normal").json()["rows"][0]["requester"] == "alice"
    first = rows[-1]["started_at"]
    assert client.get("/audit", params={"since": "2099-01-01T00:00:00Z"}).json()["count"] == 0
    assert client.get("/audit", params={"until": first}).json()["count"] == 1
    assert client.get("/audit?limit=0").status_code == 422


def test_token_is_required_when_configured(pipeline, tmp_path):
    settings = make_settings(
        pipeline, tmp_path / "s", f"sqlite:///{tmp_path / 'a.db'}", token=TOKEN
    )
    with TestClient(build_asgi(settings)) as c:
        assert c.get("/health").status_code == 200
        r = c.get("/models")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = c.get("/models", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        assert "token" in c.get("/").text


def test_a_damaged_set_is_never_served_and_is_drawn_again(client):
    out = post(client, generator="normal", n_paths=32, seed=4).json()
    folder = client.store / "sets" / out["id"]
    npz = (folder / "paths.npz").read_bytes()
    (folder / "paths.npz").write_bytes(npz[: len(npz) // 2])  # truncated on disk
    assert client.get(f"/scenarios/{out['id']}/paths").status_code == 404
    assert client.get(f"/scenarios/{out['id']}").status_code == 404
    again = post(client, generator="normal", n_paths=32, seed=4).json()
    assert again["id"] == out["id"] and again["cached"] is False  # regenerated
    assert client.get(f"/scenarios/{out['id']}/paths").content == npz
    (folder / "metadata.json").unlink()
    r = post(client, generator="normal", n_paths=32, seed=4)
    assert r.status_code == 200 and r.json()["cached"] is False
    assert len(list((client.store / "quarantine").iterdir())) == 2


def test_a_long_short_loss_beyond_the_portfolio_value_is_a_422(client):
    r = post(client, generator="normal", n_paths=64, weights={"A0": 500.0, "A1": -499.0})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "body.weights"
    (row,) = rows_of(client.db_url)
    assert row["status"] == "failed" and "body.weights" in row["error"]


def test_ready_and_models_ranges(client):
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["queue"]["max_queue"] == 8
    m = client.get("/models").json()
    for g in m["generators"]:
        first, last = g["as_of_range"]
        assert m["as_of_range"][0] >= first and m["as_of_range"][1] == last
