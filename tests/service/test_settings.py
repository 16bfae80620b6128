"""Service settings: precedence, ranges, the token rule off loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffrisk.service.settings import ServiceSettings, SettingsError, is_loopback


def test_environment_then_options_override_defaults():
    env = {"DIFFRISK_PORT": "9001", "DIFFRISK_STORE_DIR": "/tmp/x", "DIFFRISK_MAX_PATHS": "50"}
    s = ServiceSettings.from_env(env)
    assert (s.port, s.store_dir, s.max_paths, s.host) == (9001, Path("/tmp/x"), 50, "127.0.0.1")
    s = ServiceSettings.from_env(env, port=9002, db_url="postgresql://u@h/db", host=None)
    assert (s.port, s.db_url) == (9002, "postgresql://u@h/db")
    assert ServiceSettings.from_env({}).db_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"port": 70000}, "port must be in 0..65535"),
        ({"max_paths": 0}, "max_paths must be >= 1"),
        ({"port": "eighty"}, "port='eighty'"),
        ({"host": "0.0.0.0"}, "bearer token is required"),
        ({"host": "192.168.1.5", "token": "short"}, "at least 16"),
        ({"colour": "red"}, "unknown setting"),
    ],
)
def test_bad_settings_are_refused(values, match):
    with pytest.raises(SettingsError, match=match):
        ServiceSettings.from_env({}, **values)


def test_non_loopback_with_token_is_allowed():
    s = ServiceSettings.from_env({"DIFFRISK_TOKEN": "x" * 20}, host="0.0.0.0")
    assert s.host == "0.0.0.0" and s.token == "x" * 20


@pytest.mark.parametrize(
    ("host", "loop"),
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop


def test_token_from_a_file_and_allowed_hosts(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("t" * 24 + "\n", encoding="utf-8")
    s = ServiceSettings.from_env({"DIFFRISK_TOKEN_FILE": str(token_file)}, host="0.0.0.0")
    assert s.token == "t" * 24
    assert s.host_names() == frozenset({"localhost", "127.0.0.1", "::1"})  # wildcard bind
    s = ServiceSettings.from_env({}, host="127.0.0.2", allowed_hosts="risk.example, [::1]")
    assert s.host_names() == frozenset({"risk.example", "::1"})
    assert ServiceSettings.from_env({}, allowed_hosts="*").host_names() is None
    assert "127.0.0.2" in ServiceSettings.from_env({}, host="127.0.0.2").host_names()
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="is empty"):
        ServiceSettings.from_env({}, token_file=str(tmp_path / "empty"))
    with pytest.raises(SettingsError, match="cannot be read"):
        ServiceSettings.from_env({}, token_file=str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="max_queue"):
        ServiceSettings.from_env({}, max_queue=0)
