"""Tests of diffrisk.service.reverse_stress on a bare FastAPI app over the toy pipeline."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from diffrisk.core import io
from diffrisk.service.reverse_stress import DEFAULT_METHODS, configure, router
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.reverse import check_request
from diffrisk.stress.reverse_score import fit_path_reference
from diffrisk.stress.reverse_serving import SERVING_FILE, library_defaults, write_serving
from diffrisk.stress.reverse_study import METHODS, reverse_stress_methods
from tests.service.conftest import SERVING

SEGMENTS = {"g1": ["A0", "A1"], "g2": ["A2"], "other": ["A3"]}


@pytest.fixture(scope="module")
def client(pipeline):
    """The router over the toy pipeline, with the toy stage's record (its sectors)."""
    app = FastAPI()
    configure(
        app,
        pipeline["models"] / "stress.pt",
        pipeline["returns"],
        pipeline["models"] / SERVING_FILE,
    )
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
        ({"as_of": "2000-02-01"}, "as_of"),  # fewer rows before it than the model reads
        ({"as_of": "2005-01-03"}, "as_of"),  # past the day after the last row (2004-12-24)
        ({"methods": []}, "methods"),
        ({"attribution": "loudest"}, "attribution"),
        ({"strength": 1.5}, "strength"),
        ({"strength": -0.1}, "strength"),
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


def _app(pipeline, returns_file) -> TestClient:
    app = FastAPI()
    configure(app, pipeline["models"] / "stress.pt", returns_file)
    app.include_router(router)
    return TestClient(app)


def test_options_state_what_a_request_may_ask(client, pipeline):
    out = client.get("/reverse-stress").json()
    model = load_stress_model(pipeline["models"] / "stress.pt")
    index = pd.read_parquet(pipeline["returns"]).index
    reads = max(model.config.history, model.config.ewma_warmup)
    first, last = out["as_of_range"]
    assert out["assets"] == ["A0", "A1", "A2", "A3"] and out["horizon"] == 10
    assert out["methods"] == list(METHODS)
    assert out["default_methods"] == list(DEFAULT_METHODS)  # vine_copula only on request
    assert int(index.searchsorted(pd.Timestamp(first))) == reads  # rows strictly before it
    assert pd.Timestamp(last) == index[-1] + pd.offsets.BDay(1)
    assert out["n_paths"] == {"min": 16, "max": 5000, "default": 300}
    body = {"weights": [0.25] * 4, "es_alpha": 0.05, "n_paths": 16, "methods": ["diffusion"]}
    for day in (first, last):  # both ends serve the diffusion model
        r = client.post("/reverse-stress", json=body | {"as_of": day})
        assert r.status_code == 200, r.text
        assert r.json()["as_of"] == day
    before = str(index[reads - 1].date())
    r = client.post("/reverse-stress", json=body | {"as_of": before})
    assert r.status_code == 422 and r.json()["detail"][0]["allowed"] == f"{first} .. {last}"


def test_answer_states_the_methods_date_and_horizon_used(client):
    body = {"weights": [0.25] * 4, "loss": 0.03, "n_paths": 64, "seed": 1}
    chosen = {"as_of": "2004-03-01", "horizon": 5, "methods": ["historical", "normal"]}
    out = client.post("/reverse-stress", json=body | chosen).json()
    assert (out["as_of"], out["last_history"], out["horizon"]) == ("2004-03-01", "2004-02-27", 5)
    assert [row["method"] for row in out["methods"]] == ["normal", "historical"]
    assert set(out["most_plausible"]) == {"normal", "historical"}
    for best in out["most_plausible"].values():  # scored against 5-day reference windows
        assert len(best["returns"]) == 5 and 0 < best["plausibility"] <= 1
    guided = {"weights": [0.25] * 4, "es_alpha": 0.05, "n_paths": 16, "horizon": 3}
    short = client.post("/reverse-stress", json=guided | {"methods": ["diffusion"]}).json()
    assert short["horizon"] == 3 and len(short["most_plausible"]["diffusion"]["returns"]) == 3
    weekend = client.post("/reverse-stress", json=body | chosen | {"as_of": "2004-03-06"}).json()
    assert (weekend["as_of"], weekend["last_history"]) == ("2004-03-08", "2004-03-05")
    default = client.post("/reverse-stress", json=body).json()
    assert (default["as_of"], default["last_history"]) == ("2004-12-27", "2004-12-24")
    assert default["horizon"] == 10 and [r["method"] for r in default["methods"]] == list(
        DEFAULT_METHODS
    )


def test_as_of_hides_the_rows_from_it_on(pipeline, tmp_path):
    """Peers fitted on the rows before ``as_of``: changing those from it on changes nothing."""
    frame = pd.read_parquet(pipeline["returns"])
    frame.loc[frame.index >= "2004-03-01"] *= 3.0
    io.write_parquet(tmp_path / "returns.parquet", frame)
    body = {"weights": [0.25] * 4, "loss": 0.03, "n_paths": 32, "methods": ["normal", "historical"]}
    answers = {}
    for name, file in (
        ("original", pipeline["returns"]),
        ("changed", tmp_path / "returns.parquet"),
    ):
        app = _app(pipeline, file)
        answers[name] = [
            app.post("/reverse-stress", json=body | extra).json()
            for extra in ({"as_of": "2004-03-01"}, {})
        ]
    for key in ("methods", "most_plausible", "as_of", "last_history"):
        assert answers["original"][0][key] == answers["changed"][0][key]
    assert answers["original"][1]["methods"] != answers["changed"][1]["methods"]


def test_answers_use_the_stage_record(client, pipeline):
    """Sectors and attribution of the record; the rows are the library's with them."""
    options = client.get("/reverse-stress").json()
    expected = {
        "attribution": "top_decile",
        "strength": 1.0,
        "defensive": SERVING.defensive,
        "n_steps": SERVING.n_steps,
        "segments": SEGMENTS,
        "source": "toy stage",
    }
    assert options["settings"] == expected
    assert options["attributions"] == ["set_mean", "most_plausible", "top_decile", "weighted"]
    body = {"weights": [0.1, 0.2, 0.3, 0.4], "loss": 0.03, "n_paths": 48, "seed": 4}
    peers = ["normal", "student_t", "historical"]
    out = client.post("/reverse-stress", json=body | {"methods": peers}).json()
    assert out["settings"] == expected and out["audit"]["settings"] == expected
    frame = pd.read_parquet(pipeline["returns"])[["A0", "A1", "A2", "A3"]]
    model = load_stress_model(pipeline["models"] / "stress.pt")
    _, summary = reverse_stress_methods(
        None,
        frame,
        check_request(body["weights"], 4, 10, 10, loss=0.03),
        as_of=None,
        reference=fit_path_reference(frame.loc[: model.train_end].to_numpy(dtype=float), 10),
        segments=SEGMENTS,
        n_paths=48,
        methods=peers,
        seed=4,
        attribution="top_decile",
    )
    rows = {r["method"]: r for r in out["methods"]}
    for row in summary.to_dict(orient="records"):
        assert rows[row["method"]]["set_segment_ranking"] == row["set_segment_ranking"]
        assert rows[row["method"]]["leading_segment"] in SEGMENTS
        assert rows[row["method"]]["p"] == pytest.approx(row["p"], rel=1e-12)


def test_a_request_may_name_its_attribution_and_strength(client):
    body = {"weights": [0.25] * 4, "loss": 0.03, "n_paths": 48, "seed": 1}
    base = client.post("/reverse-stress", json=body | {"methods": ["diffusion"]}).json()
    mine = {"attribution": "weighted", "strength": 0.5, "methods": ["diffusion"]}
    out = client.post("/reverse-stress", json=body | mine).json()
    assert (out["settings"]["attribution"], out["settings"]["strength"]) == ("weighted", 0.5)
    assert out["settings"]["source"] == "toy stage; attribution, strength from the request"
    assert out["audit"]["params"]["strength"] == 0.5
    assert base["settings"]["strength"] == 1.0
    guided = out["audit"]["diffusion"], base["audit"]["diffusion"]
    assert guided[0] != guided[1]  # the weaker guidance drew other chains


def test_without_a_record_the_library_defaults_answer(pipeline):
    app = _app(pipeline, pipeline["returns"])
    settings = app.get("/reverse-stress").json()["settings"]
    assert settings["segments"] == {a: [a] for a in ("A0", "A1", "A2", "A3")}
    assert (settings["attribution"], settings["strength"]) == ("set_mean", 1.0)
    assert settings["source"] == "library defaults"


def test_a_record_for_other_weights_or_assets_is_refused(pipeline, tmp_path):
    record = tmp_path / SERVING_FILE
    write_serving(record, replace(library_defaults(), checkpoint_sha256="0" * 64))
    with pytest.raises(ValueError, match=r"reverse_stress.json: chosen for stress weights 000000"):
        configure(FastAPI(), pipeline["models"] / "stress.pt", pipeline["returns"], record)
    write_serving(record, replace(library_defaults(), sectors="tech=AAPL"))
    with pytest.raises(ValueError, match=r"reverse_stress.json: segments: segment 'tech' names"):
        configure(FastAPI(), pipeline["models"] / "stress.pt", pipeline["returns"], record)
