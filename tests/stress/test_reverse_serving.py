"""Tests of diffrisk.stress.reverse_serving: the service's reverse stress settings."""

from __future__ import annotations

import json

import pytest

from diffrisk.stress.reverse_serving import (
    FIELDS,
    SERVING_FILE,
    ReverseServing,
    library_defaults,
    read_serving,
    write_serving,
)

ASSETS = ["AAPL", "JPM", "MSFT", "XOM"]
SHA = "ab" * 32


def _record(**change) -> ReverseServing:
    base = ReverseServing(
        sectors="tech=AAPL,MSFT; banks=JPM",
        attribution="top_decile",
        strength=0.5,
        defensive=0.1,
        n_steps=12,
        checkpoint_sha256=SHA,
        source="reverse_stress stage: the validation rule's choice",
    )
    return ReverseServing(**(base.to_record() | change))


def test_record_round_trips_and_states_every_field(tmp_path):
    path = write_serving(tmp_path / SERVING_FILE, _record())
    raw = json.loads(path.read_text())
    assert sorted(raw) == sorted(FIELDS)
    back = read_serving(path, ASSETS, SHA)
    assert back == _record()
    assert back.segments(ASSETS) == {"tech": ["AAPL", "MSFT"], "banks": ["JPM"], "other": ["XOM"]}
    assert back.diffusion_options() == {"strength": 0.5, "defensive": 0.1, "n_steps": 12}
    assert not list(tmp_path.glob("*.tmp"))  # written atomically


def test_library_defaults_are_one_segment_per_asset_and_the_function_defaults():
    defaults = library_defaults()
    assert defaults.segments(ASSETS) == {a: [a] for a in ASSETS}
    assert (defaults.attribution, defaults.strength, defaults.defensive, defaults.n_steps) == (
        "set_mean",
        1.0,
        0.2,
        20,
    )
    assert defaults.source == "library defaults" and defaults.checkpoint_sha256 == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"attribution": "loudest"}, r"attribution \['loudest'\] unknown"),
        ({"strength": 1.5}, r"strength must be in \[0, 1\], got 1.5"),
        ({"strength": "strong"}, r"strength must be a finite number"),
        ({"defensive": 1.0}, r"defensive must be in \[0, 1\), got 1.0"),
        ({"n_steps": 2.5}, r"n_steps must be an integer >= 1"),
        ({"sectors": 3}, r"sectors must be a string"),
    ],
)
def test_bad_values_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        _record(**change)


def test_read_names_the_file_and_what_is_wrong(tmp_path):
    path = tmp_path / SERVING_FILE
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"reverse_stress.json: expected a JSON object"):
        read_serving(path, ASSETS)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"reverse_stress.json: not a readable JSON record"):
        read_serving(path, ASSETS)
    with pytest.raises(ValueError, match=r"not a readable JSON record"):
        read_serving(tmp_path / "absent.json", ASSETS)
    raw = _record().to_record()
    del raw["strength"]
    path.write_text(json.dumps(raw | {"colour": "red"}))
    with pytest.raises(
        ValueError, match=r"missing fields \['strength'\], unknown fields \['colour'\]"
    ):
        read_serving(path, ASSETS)
    path.write_text(json.dumps(_record().to_record() | {"attribution": "loudest"}))
    with pytest.raises(ValueError, match=r"reverse_stress.json: attribution \['loudest'\]"):
        read_serving(path, ASSETS)
    write_serving(path, _record())
    with pytest.raises(ValueError, match=r"reverse_stress.json: segments: segment 'tech' names"):
        read_serving(path, ["JPM", "XOM"])  # the served model has other assets
    with pytest.raises(ValueError, match=r"chosen for stress weights abababababab, but the served"):
        read_serving(path, ASSETS, "cd" * 32)
    write_serving(path, _record(checkpoint_sha256=""))  # a record for any weights
    assert read_serving(path, ASSETS, "cd" * 32).checkpoint_sha256 == ""
