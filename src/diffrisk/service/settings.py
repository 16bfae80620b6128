"""Settings of the scenario service: locations, limits, binding and the access token."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from diffrisk.core import paths

#: Environment variables read by :meth:`ServiceSettings.from_env` (prefix ``DIFFRISK_``).
ENV_FIELDS: dict[str, str] = {
    "host": "DIFFRISK_HOST",
    "port": "DIFFRISK_PORT",
    "db_url": "DIFFRISK_DB_URL",
    "store_dir": "DIFFRISK_STORE_DIR",
    "token": "DIFFRISK_TOKEN",
    "models_dir": "DIFFRISK_MODELS_DIR",
    "returns_file": "DIFFRISK_RETURNS_FILE",
    "stress_dir": "DIFFRISK_STRESS_DIR",
    "stress_student": "DIFFRISK_STRESS_STUDENT",
    "max_paths": "DIFFRISK_MAX_PATHS",
    "max_body_bytes": "DIFFRISK_MAX_BODY_BYTES",
    "default_guidance": "DIFFRISK_DEFAULT_GUIDANCE",
    "torch_threads": "DIFFRISK_TORCH_THREADS",
    "token_file": "DIFFRISK_TOKEN_FILE",
    "allowed_hosts": "DIFFRISK_ALLOWED_HOSTS",
    "max_queue": "DIFFRISK_MAX_QUEUE",
    "queue_timeout": "DIFFRISK_QUEUE_TIMEOUT",
    "db_timeout": "DIFFRISK_DB_TIMEOUT",
}
#: Settings that name a file or folder.
PATH_FIELDS: tuple[str, ...] = (
    "models_dir", "returns_file", "stress_dir", "store_dir", "token_file", "stress_student",
)  # fmt: skip
#: Host names accepted in the ``Host`` header by default (DNS-rebinding protection).
LOOPBACK_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe (the service refuses to start)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost``, 127.0.0.0/8, ``::1``).

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, False, True)
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServiceSettings:
    """Everything the service is configured with.

    Attributes
    ----------
    models_dir : Path
        Folder of the pipeline's checkpoints (``stress.pt`` and its ``stress.audit.json``).
    returns_file : Path
        The data stage's ``returns.parquet`` (conditioning history, baseline fits).
    stress_dir : Path
        The ``stress_generate`` outputs: ``index.json`` and the ``*.audit.json`` sidecars
        (resolved archetypes, calibrated guidance weights, sampler settings).
    store_dir : Path
        Content-addressed scenario-set store.
    db_url : str
        SQLAlchemy URL of the audit log (SQLite file by default, PostgreSQL by URL).
    host, port : str, int
        Binding (loopback by default).
    token : str or None
        Bearer token required on every endpoint but ``/health``; mandatory when ``host``
        is not a loopback address.
    max_paths : int
        Largest ``n_paths`` of a request.
    max_body_bytes : int
        Largest request body (larger: 413).
    default_guidance : float
        Guidance weight of explicit-signature requests (archetypes use the pipeline's
        calibrated weight).
    torch_threads : int
        Threads of the model calls (1: measured faster than 2 on the shared 2-core
        machine, where a second thread competes with other work).
    token_file : Path or None
        File holding the token (first line); keeps it out of ``ps`` and the environment.
    allowed_hosts : str or None
        Comma-separated names accepted in the ``Host`` header (DNS-rebinding protection);
        default: the loopback names plus ``host`` when it is not a wildcard address.
        ``*`` accepts any host (only sensible behind a proxy that checks it).
    max_queue : int
        Largest number of generation requests admitted at once (running or waiting for
        the model); beyond it the service answers 503 with ``Retry-After``.
    queue_timeout : float
        Seconds a request may wait for the model before it gets 503.
    db_timeout : float
        Seconds of retries on a locked or unavailable audit database before 503.
    stress_student : Path or None
        A distilled few-step student of ``stress.pt`` (:mod:`diffrisk.service.student`),
        served as ``diffusion_student`` beside the teacher; None (default): the one the
        pipeline's ``stress_distill`` stage chose on validation, if any
        (:func:`~diffrisk.service.student.pipeline_student`).
    """

    models_dir: Path
    returns_file: Path
    stress_dir: Path
    store_dir: Path
    db_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_paths: int = 10_000
    max_body_bytes: int = 65_536
    default_guidance: float = 1.25
    torch_threads: int = 1
    token_file: Path | None = None
    allowed_hosts: str | None = None
    max_queue: int = 8
    queue_timeout: float = 20.0
    db_timeout: float = 5.0
    stress_student: Path | None = None

    @classmethod
    def defaults(cls) -> ServiceSettings:
        """The pipeline's locations (:mod:`diffrisk.core.paths`) and the default limits."""
        service_dir = paths.data_dir() / "service"
        return cls(
            models_dir=paths.models_dir(),
            returns_file=paths.returns_file(),
            stress_dir=paths.stress_dir(),
            store_dir=service_dir / "sets",
            db_url=f"sqlite:///{service_dir / 'audit.db'}",
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ServiceSettings:
        """Defaults, overridden by ``DIFFRISK_*`` variables, overridden by ``overrides``.

        ``overrides`` whose value is None are ignored (unset command-line options).
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            name: env[var] for name, var in ENV_FIELDS.items() if env.get(var, "") != ""
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.defaults().with_values(values)

    def with_values(self, values: Mapping[str, Any]) -> ServiceSettings:
        """A copy with ``values`` (strings converted) applied, then :meth:`validated`."""
        converted: dict[str, Any] = {}
        for name, value in values.items():
            if name not in ENV_FIELDS:
                raise SettingsError(
                    f"unknown setting {name!r}; expected one of {sorted(ENV_FIELDS)}"
                )
            current = getattr(self, name)
            try:
                if name in PATH_FIELDS:
                    converted[name] = Path(value)
                elif name in ("port", "max_paths", "max_body_bytes", "torch_threads", "max_queue"):
                    converted[name] = int(value)
                elif name in ("default_guidance", "queue_timeout", "db_timeout"):
                    converted[name] = float(value)
                else:
                    converted[name] = None if value is None and current is None else str(value)
            except (TypeError, ValueError) as exc:
                raise SettingsError(f"setting {name}={value!r} is not a valid value") from exc
        out = replace(self, **converted)
        if out.token_file is not None and "token" not in converted:
            out = replace(out, token=read_token_file(out.token_file))
        return out.validated()

    def host_names(self) -> frozenset[str] | None:
        """Names accepted in the ``Host`` header (None: any; see ``allowed_hosts``)."""
        if self.allowed_hosts is not None:
            names = {h.strip().lower().strip("[]") for h in self.allowed_hosts.split(",")}
            names.discard("")
            return None if "*" in names else frozenset(names)
        names = set(LOOPBACK_NAMES)
        if self.host not in ("0.0.0.0", "::", ""):
            names.add(self.host.lower().strip("[]"))
        return frozenset(names)

    def validated(self) -> ServiceSettings:
        """Check ranges and the token rule; return ``self``.

        Raises
        ------
        SettingsError
            Port outside 0..65535, non-positive limits, or a non-loopback ``host`` without
            a token.
        """
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be in 0..65535, got {self.port}")
        for name in ("max_paths", "max_body_bytes", "torch_threads", "max_queue"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.default_guidance <= 10.0:
            raise SettingsError(f"default_guidance must be in [0, 10], got {self.default_guidance}")
        for name in ("queue_timeout", "db_timeout"):
            if not 0.0 < getattr(self, name) <= 600.0:
                raise SettingsError(
                    f"{name} must be in (0, 600] seconds, got {getattr(self, name)}"
                )
        if self.token is not None and len(self.token) < 16:
            raise SettingsError("token must have at least 16 characters")
        if not is_loopback(self.host) and not self.token:
            raise SettingsError(
                f"host {self.host!r} is not a loopback address: a bearer token is required "
                "(--token-file, DIFFRISK_TOKEN_FILE or DIFFRISK_TOKEN) before the service may "
                "listen on it"
            )
        return self


def read_token_file(path: Path) -> str:
    """The token in ``path`` (first line, stripped); SettingsError if unreadable or empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"token file {path} cannot be read: {exc.strerror}") from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not token:
        raise SettingsError(f"token file {path} is empty")
    return token
