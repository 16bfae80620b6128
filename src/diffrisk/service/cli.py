"""Command line of the service: ``python -m diffrisk.service [--host ...] [--port ...]``.

Options override the ``DIFFRISK_*`` environment variables, which override the defaults
(:class:`~diffrisk.service.settings.ServiceSettings`). The service refuses to start
(exit status 2) on a bad setting, e.g. a non-loopback host without a token or a
``--stress-student`` distilled from another checkpoint, and when the
pipeline's outputs are missing (exit status 3: run ``make repro`` first), and when another
service process owns the store or the audit database (exit status 4).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from diffrisk.service.ownership import StoreBusy
from diffrisk.service.records import PipelineOutputsMissing
from diffrisk.service.settings import ServiceSettings, SettingsError
from diffrisk.service.student import StudentMismatch

logger = logging.getLogger(__name__)

EXIT_BAD_SETTINGS, EXIT_NO_CHECKPOINTS, EXIT_BUSY = 2, 3, 4


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (every option defaults to None: environment or default)."""
    p = argparse.ArgumentParser(
        prog="python -m diffrisk.service",
        description="Scenario query service over the pipeline's trained generators.",
    )
    p.add_argument("--host", help="bind address (default 127.0.0.1; DIFFRISK_HOST)")
    p.add_argument("--port", type=int, help="port (default 8000; DIFFRISK_PORT)")
    p.add_argument("--db-url", dest="db_url", help="SQLAlchemy URL of the audit log")
    p.add_argument("--store-dir", dest="store_dir", help="scenario-set store folder")
    p.add_argument(
        "--token",
        help="bearer token (visible in `ps`: prefer --token-file or DIFFRISK_TOKEN)",
    )
    p.add_argument(
        "--token-file",
        dest="token_file",
        help="file holding the bearer token (DIFFRISK_TOKEN_FILE)",
    )
    p.add_argument(
        "--allowed-hosts",
        dest="allowed_hosts",
        help="comma-separated Host header names accepted (default: loopback names)",
    )
    p.add_argument("--max-queue", dest="max_queue", type=int, help="generation requests admitted")
    p.add_argument("--models-dir", dest="models_dir", help="checkpoint folder (models/)")
    p.add_argument("--returns-file", dest="returns_file", help="data/processed/returns.parquet")
    p.add_argument("--stress-dir", dest="stress_dir", help="stress_generate outputs (data/stress)")
    p.add_argument(
        "--stress-student",
        dest="stress_student",
        help="also serve this distilled stress student as diffusion_student (default: the "
        "student of the stress_distill stage if its validation rule chose it)",
    )
    p.add_argument("--max-paths", dest="max_paths", type=int, help="largest n_paths")
    p.add_argument("--torch-threads", dest="torch_threads", type=int, help="model threads")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the service; return the exit status (0 after a clean shutdown)."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    overrides = {k: v for k, v in vars(args).items() if k != "log_level"}
    if args.token is not None:
        logger.warning("--token is visible to every user in `ps`: use --token-file instead")
    try:
        settings = ServiceSettings.from_env(**overrides)
    except SettingsError as exc:
        print(f"diffrisk.service: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    try:
        from diffrisk.service.app import build_asgi

        app = build_asgi(settings)
    except PipelineOutputsMissing as exc:
        print(f"diffrisk.service: {exc}", file=sys.stderr)
        return EXIT_NO_CHECKPOINTS
    except StudentMismatch as exc:
        print(f"diffrisk.service: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except StoreBusy as exc:
        print(f"diffrisk.service: {exc}", file=sys.stderr)
        return EXIT_BUSY
    import uvicorn

    # the event loop (``/health``, admission) gets the GIL back from the sampler and
    # request threads within 1 ms instead of 5 ms
    sys.setswitchinterval(0.001)

    logger.info(
        "serving on http://%s:%d (store %s)", settings.host, settings.port, settings.store_dir
    )
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level=args.log_level, access_log=False
    )
    return 0
