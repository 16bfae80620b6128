"""A throw-away PostgreSQL server for tests: ``initdb`` and ``pg_ctl`` in a temporary folder.

Generic (nothing here knows about Optuna): :func:`postgres_server` starts a server that
listens on 127.0.0.1 only, on a free port, with its unix socket inside the temporary
folder and ``trust`` authentication for the superuser ``postgres``; it yields a
:class:`PostgresServer` whose :meth:`~PostgresServer.create_database` returns a SQLAlchemy
URL. The server is stopped and the folder removed on exit, whatever happened.

``initdb`` refuses to run as root: as root, every server command runs as the ``postgres``
system user (``runuser -u postgres -- ...``) and the folder is handed to that user.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

#: The database superuser created by ``initdb`` (connections from 127.0.0.1 are trusted).
SUPERUSER = "postgres"
#: System user that runs the server when the tests run as root.
SYSTEM_USER = "postgres"
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")


def postgres_bindir() -> Path | None:
    """The folder of ``initdb``/``pg_ctl``/``postgres``, or None when they are not installed.

    ``pg_config --bindir`` first (Debian's pg_config names the server's folder), then the
    newest ``/usr/lib/postgresql/<version>/bin``, then ``PATH``.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", path.parent.name))

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if all((folder / name).is_file() for name in SERVER_BINARIES):
            return folder
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    """A running throw-away server (see :func:`postgres_server`).

    Attributes
    ----------
    bindir : Path
        Folder of the server binaries.
    root : Path
        The temporary folder (data directory ``data/``, socket, log ``server.log``).
    port : int
        TCP port on 127.0.0.1.
    as_user : str or None
        System user the server commands run as (``postgres`` when the tests run as root).
    """

    bindir: Path
    root: Path
    port: int
    as_user: str | None

    def run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a binary of ``bindir`` (as ``as_user`` if set), capturing its output."""
        cmd = [str(self.bindir / program), *args]
        if self.as_user is not None:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        proc = subprocess.run(
            cmd, cwd=self.root, capture_output=True, text=True, check=False, timeout=60
        )
        if check and proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.is_file() else ""
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n"
                f"server log:\n{tail}"
            )
        return proc

    def url(self, database: str = "postgres", driver: str = "psycopg2") -> str:
        """SQLAlchemy URL of ``database`` (``postgresql+<driver>://postgres@127.0.0.1:port/db``)."""
        return f"postgresql+{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, driver: str = "psycopg2") -> str:
        """Create database ``name`` and return its SQLAlchemy URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"database name must match [a-z_][a-z0-9_]*, got {name!r}")
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url(name, driver)


def _hand_over(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(0o700)


def _kill_postmaster(data: Path) -> None:
    """Kill the server this module started in ``data`` (its pid is in postmaster.pid)."""
    pid_file = data / "postmaster.pid"
    if pid_file.is_file():
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


@contextmanager
def postgres_server(
    bindir: Path | None = None, settings: Sequence[str] = (), attempts: int = 3
) -> Iterator[PostgresServer]:
    """Start a throw-away PostgreSQL server; stop it and delete its folder on exit.

    Parameters
    ----------
    bindir : Path, optional
        Folder of the server binaries (default: :func:`postgres_bindir`).
    settings : sequence of str
        Extra ``name=value`` server settings (``-c``).
    attempts : int
        Start attempts, each on a new free port (another process may take the port
        between the probe and the start).

    Yields
    ------
    PostgresServer

    Raises
    ------
    FileNotFoundError
        If the server binaries are not installed (callers skip on it).
    RuntimeError
        If running as root without a ``postgres`` system user, or the server fails.
    """
    bindir = bindir or postgres_bindir()
    if bindir is None:
        raise FileNotFoundError(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: no pg_config "
            "--bindir, /usr/lib/postgresql/*/bin or initdb on PATH (Debian: apt-get install "
            "postgresql)"
        )
    as_user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError as exc:
            raise RuntimeError(
                f"running as root: initdb needs the system user {SYSTEM_USER!r}, which is missing"
            ) from exc
        as_user = SYSTEM_USER
    # Not under pytest's tmp_path: its parents are private to root.
    root = Path(tempfile.mkdtemp(prefix="pgtest-"))
    server = PostgresServer(bindir=bindir, root=root, port=0, as_user=as_user)
    started = False
    try:
        if as_user is not None:
            _hand_over(root, as_user)
        data = root / "data"
        server.run(
            "initdb",
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "--no-locale",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-k {root}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            *(f"-c {s}" for s in settings),
        ]
        for attempt in range(attempts):
            server = PostgresServer(bindir=bindir, root=root, port=free_port(), as_user=as_user)
            proc = server.run(
                "pg_ctl",
                "-D",
                str(data),
                "-l",
                str(root / "server.log"),
                "-w",
                "-t",
                "30",
                "-o",
                " ".join([f"-p {server.port}", *options]),
                "start",
                check=attempt == attempts - 1,
            )
            if proc.returncode == 0:
                started = True
                break
        yield server
    finally:
        if started:
            stop = server.run(
                "pg_ctl", "-D", str(root / "data"), "-m", "immediate", "-w", "stop", check=False
            )
            if stop.returncode != 0:
                _kill_postmaster(root / "data")
        shutil.rmtree(root, ignore_errors=True)
