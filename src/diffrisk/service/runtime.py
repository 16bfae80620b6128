"""The service's state: generators, store, audit log, ownership, queue and provenance.

:class:`Service` is built once per process (by :func:`diffrisk.service.app.create_app`).
Everything constant is computed here at start-up: library versions, the git revision
(never a ``git`` call per request), and the conditioning dates each generator really
serves (:func:`served_as_of_range`: probed, so that ``/models`` advertises only dates
that work).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
import platform
import time
from typing import Any

import numpy as np
import pandas as pd
import torch
from anyio import CapacityLimiter

from diffrisk import __version__
from diffrisk.core import audit
from diffrisk.service.admission import Admission
from diffrisk.service.audit_log import AuditLog, DatabaseUnavailable
from diffrisk.service.generators import Generator, Registry, load_registry
from diffrisk.service.guard import RejectionLog
from diffrisk.service.ownership import Ownership
from diffrisk.service.records import Draw
from diffrisk.service.resolve import Resolved, summarise
from diffrisk.service.schemas import RequestError
from diffrisk.service.settings import ServiceSettings
from diffrisk.service.store import ScenarioStore
from diffrisk.service.student import pipeline_student, student_generator

logger = logging.getLogger(__name__)

_LIBRARIES = ("numpy", "pandas", "torch", "scipy", "fastapi", "sqlalchemy", "pyarrow")
_PROBE_SPAN = 400  # rows searched past the first date for a generator's first servable date


def library_versions() -> dict[str, str]:
    """Versions of Python, diffrisk and the libraries a set depends on."""
    out = {"python": platform.python_version()}
    for name in ("diffrisk", *_LIBRARIES):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _works(gen: Generator, as_of: pd.Timestamp) -> bool:
    try:
        gen.sample(Draw({}, str(as_of.date()), 2, 0, 0.0 if gen.guided else None, 0))
    except (ValueError, IndexError, KeyError, RuntimeError):
        return False
    return True


def served_as_of_range(gen: Generator, registry: Registry) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last conditioning date ``gen`` serves, probed with tiny draws.

    The registry's range (enough history for the model) is the start; a generator that
    needs more history (e.g. a volatility warm-up) fails near the first date, so the first
    working date is found by bisection over the next rows (draws succeed from some date on).
    """
    first, last = registry.as_of_range()
    if _works(gen, first):
        return first, last
    index = registry.returns.index
    lo = int(index.searchsorted(first))
    hi = min(lo + _PROBE_SPAN, len(index) - 1)
    if not _works(gen, index[hi]):
        return index[hi], index[hi - 1]  # empty range: the generator serves no date
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _works(gen, index[mid]) else (mid, hi)
    logger.info("generator %s serves as_of from %s", gen.name, index[hi].date())
    return index[hi], last


class Service:
    """State shared by the endpoints (see the module docstring)."""

    def __init__(self, settings: ServiceSettings, registry: Registry | None = None) -> None:
        self.settings = settings
        self.store = ScenarioStore(settings.store_dir)
        self.log = AuditLog(settings.db_url, timeout=settings.db_timeout)
        try:  # first: a second process fails fast, before loading any model
            self.ownership = Ownership(settings.store_dir, self.log.engine)
            self.registry = registry or load_registry(
                settings.models_dir,
                settings.returns_file,
                settings.stress_dir,
                settings.default_guidance,
            )
            if registry is None:  # a student named by the settings, else the pipeline's choice
                student = settings.stress_student or pipeline_student(settings.models_dir)
                if student is not None:
                    teacher = self.registry.get("diffusion")
                    self.registry.add(student_generator(student, teacher, self.registry.returns))
        except BaseException:
            if hasattr(self, "ownership"):
                self.ownership.release()
            self.log.close()
            raise
        self.rejections = RejectionLog(self.log)
        self.admission = Admission(settings.max_queue, settings.queue_timeout)
        # few threads resolve and log requests at once: dozens of Python threads fighting
        # for the GIL would delay the event loop (and /health) behind them
        self.prepare_limiter = CapacityLimiter(4)
        self.inflight: dict[str, Any] = {}  # set id -> future of the draw under way
        self.versions = library_versions()
        self.git_revision = audit.git_revision()  # once: no git call per request
        self.ranges = {
            g.name: served_as_of_range(g, self.registry)
            for versions in self.registry.generators.values()
            for g in versions[-1:]
        }
        self.recovered = False
        removed = self.store.clean()
        logger.info("store: %d stale temporary folders removed", removed)
        self.ensure_recovered(raise_errors=False)

    def ensure_recovered(self, raise_errors: bool = True) -> None:
        """Close the previous run's open rows once the database is writable."""
        if self.recovered:
            return
        try:
            counts = self.log.recover(self.store.exists)
        except DatabaseUnavailable:
            logger.error("audit database not writable at start-up: recovery postponed")
            if raise_errors:
                raise
            return
        self.recovered = True
        logger.info("audit log recovered: %s", counts)

    def check_as_of(self, res: Resolved) -> None:
        """422 naming ``body.as_of`` if the generator does not serve the resolved date."""
        first, last = self.ranges.get(res.generator.name, self.registry.as_of_range())
        stamp = pd.Timestamp(res.draw.as_of)
        if not first <= stamp <= last:
            raise RequestError(
                422,
                "body.as_of",
                f"generator {res.generator.name!r} cannot condition on {stamp.date()} "
                "(too little history before it)",
                f"{first.date()} .. {last.date()}",
            )

    def response(self, set_id: str, cached: bool) -> dict[str, Any]:
        """The JSON answer for a stored set: id, metadata, risk summary and fan chart."""
        meta = self.store.metadata(set_id)
        return {
            "id": set_id,
            "cached": cached,
            "metadata": meta,
            "risk_summary": meta["risk_summary"],
            "fan": meta["fan"],
        }

    def generate(self, set_id: str, res: Resolved, requested_at: str) -> bool:
        """Draw, summarise and store the set unless it is there; whether this call drew it.

        Runs on a worker thread holding the model lock (:class:`Admission`).
        """
        if self.store.exists(set_id):
            return False
        torch.set_num_threads(self.settings.torch_threads)
        tic = time.perf_counter()
        paths_, conditioning = res.generator.sample(res.draw)
        seconds = time.perf_counter() - tic
        paths_ = np.ascontiguousarray(paths_[:, : res.horizon], dtype=np.float32)
        try:
            rows, fan = summarise(paths_, res.weights)
        except ValueError as exc:
            if "short portfolio" not in str(exc):
                raise
            raise RequestError(
                422,
                "body.weights",
                "a path loses more than the whole portfolio in one day with these "
                "long/short weights (log return undefined below -100 %)",
                "weights whose daily loss stays above -100 % (less leverage)",
            ) from None
        self.store.write(
            set_id,
            paths_,
            res.generator.assets,
            self._record(
                res,
                set_id,
                {
                    "conditioning": conditioning,
                    "torch_threads": int(torch.get_num_threads()),
                    "timestamps": {
                        "requested_at": requested_at,
                        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                        "generation_seconds": round(seconds, 4),
                    },
                    "n_paths": int(paths_.shape[0]),
                    "risk_summary": rows,
                    "fan": fan,
                },
            ),
        )
        return True

    def _record(self, res: Resolved, set_id: str, extra: dict[str, Any]) -> dict[str, Any]:
        gen = res.generator
        return {
            "params": res.canonical,
            "seed": int(res.draw.seed),
            "data_sha256": self.registry.data_sha256,
            "package_version": __version__,
            "git_revision": self.git_revision,
            "python": self.versions["python"],
            "utc_timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "id": set_id,
            "request": res.canonical,
            "generator": gen.name,
            "model_version": gen.version,
            "checkpoint_sha256": gen.info.get("checkpoint_sha256"),
            "training_period": gen.info.get("training_period"),
            "guidance": res.draw.guidance,
            "conditioning_gain": res.canonical["conditioning_gain"],
            "guidance_source": res.guidance_source,
            "archetype": res.canonical["archetype"],
            "archetype_source": res.archetype_source,
            "signature": res.draw.signature,
            "out_of_range": res.out_of_range,
            "out_of_range_flag": bool(res.out_of_range),
            "training_signature_range": gen.info.get("signature_range"),
            "assets": gen.assets,
            "horizon": res.horizon,
            "library_versions": self.versions,
            **extra,
        }

    def close(self) -> None:
        """Write pending audit rows, give up the locks, release the database."""
        self.rejections.close()
        self.ownership.release()
        self.log.close()
