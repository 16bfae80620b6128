"""The guard around every route: Host check, token, body limit, JSON 500, refusals logged."""

from __future__ import annotations

import warnings

import pytest

from diffrisk.service.app import build_asgi
from diffrisk.service.guard import host_name
from tests.service.conftest import make_settings, rows_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "s3cret-token-0123456789"


@pytest.fixture
def guarded(pipeline, tmp_path):
    db = f"sqlite:///{tmp_path / 'a.db'}"
    asgi = build_asgi(make_settings(pipeline, tmp_path / "s", db, token=TOKEN))
    with TestClient(asgi, raise_server_exceptions=False) as c:
        c.db = db
        yield c


@pytest.mark.parametrize(
    ("header", "name"),
    [("localhost:8000", "localhost"), ("[::1]:1", "::1"), ("127.0.0.1", "127.0.0.1")],
)
def test_host_name(header, name):
    assert host_name(header) == name


def test_dns_rebinding_host_is_refused(guarded):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/health", "/audit", "/models"):
        r = guarded.get(path, headers={"Host": "attacker.example", **auth})
        assert r.status_code == 400 and r.json()["detail"][0]["field"] == "header.host"
    r = guarded.post("/scenarios", json={}, headers={"Host": "attacker.example:80", **auth})
    assert r.status_code == 400
    assert guarded.get("/models", headers={"Host": "localhost:8000", **auth}).status_code == 200


def test_token_protects_everything_but_health_and_the_static_page(guarded):
    for path in ("/models", "/docs", "/openapi.json", "/audit", "/ready", "/nowhere"):
        r = guarded.get(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["detail"][0]["field"] == "header.authorization"
    assert guarded.get("/health").status_code == 200
    page = guarded.get("/")
    assert page.status_code == 200 and "const TOKEN_REQUIRED = true" in page.text
    auth = {"Authorization": f"Bearer {TOKEN}"}
    spec = guarded.get("/openapi.json", headers=auth).json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    responses = spec["paths"]["/scenarios"]["post"]["responses"]
    assert {"401", "404", "413", "422", "503", "500"} <= set(responses)
    guarded.app.state.service.rejections.flush()
    rows = rows_of(guarded.db)
    assert len(rows) == 6 and {r["status"] for r in rows} == {"rejected"}
    assert sorted(r["request"]["path"] for r in rows)[0] == "/audit"


def test_audit_shows_no_client_address_and_no_path(guarded):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    guarded.post("/scenarios", json={"n_paths": True}, headers=auth)
    guarded.app.state.service.rejections.flush()
    rows = guarded.get("/audit", headers=auth).json()["rows"]
    assert rows and all("client" not in r for r in rows)
    assert rows[0]["request"]["http_status"] == 422 and "body.n_paths" in rows[0]["error"]


def test_an_unexpected_error_is_a_json_500_and_the_client_carries_on(guarded, monkeypatch):
    svc = guarded.app.state.service
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def broken(*_a, **_k):
        raise RuntimeError("boom in /secret/place")

    monkeypatch.setattr(svc.registry, "as_of_range", broken)
    r = guarded.get("/models", headers=auth)
    assert r.status_code == 500 and r.json()["detail"][0]["field"] == "server"
    assert "/secret" not in r.text
    monkeypatch.undo()
    assert guarded.get("/models", headers=auth).status_code == 200
