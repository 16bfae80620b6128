"""Content-addressed, atomically written scenario-set store.

A set lives in ``<root>/sets/<id>/``: ``paths.npy`` (the float32 array), ``paths.npz``
and ``paths.parquet`` (the download formats, written with fixed timestamps so that the
same array always gives the same bytes) and ``metadata.json``. The id is the SHA-256 of
the canonical JSON of the resolved request, the model version and the data hash
(:func:`set_id`), so the same request and seed always map to the same folder.

Atomicity: a set is written into a fresh folder under ``<root>/tmp/`` and renamed onto
``sets/<id>`` in one ``os.replace``; a reader sees either no set or a whole one. Two
writers of the same id race harmlessly (the loser's folder is removed: the content is
the same). Leftover temporary folders of a killed writer are removed by :meth:`clean`.

Self-check: ``checksums.json`` (written last) records the SHA-256 and size of every other
file of the set. Every read verifies them (:meth:`ScenarioStore.verify`; a file's check
is remembered while its size and modification time stay the same). A set whose files are
missing, truncated or altered is *damaged*: it is logged, moved to ``<root>/quarantine/``
and treated as absent, so it is never served and the next request for it draws it again
(the id is the content address of the request).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from diffrisk.core.io import json_default

_ID = re.compile(r"^[0-9a-f]{64}$")
#: Download formats: file name and media type.
FORMATS: dict[str, tuple[str, str]] = {
    "npz": ("paths.npz", "application/x-npz"),
    "parquet": ("paths.parquet", "application/vnd.apache.parquet"),
}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
CHECKSUMS = "checksums.json"
logger = logging.getLogger(__name__)


class DamagedSet(FileNotFoundError):
    """A stored set failed its checksum check (it has been quarantined)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(obj: Any) -> str:
    """Key-sorted, compact JSON (NumPy scalars made plain): the hashed form of a request."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=json_default)


def set_id(request: Mapping[str, Any], model_version: str, data_sha256: str) -> str:
    """SHA-256 of the canonical resolved request, model version and training-data hash.

    Examples
    --------
    >>> a = set_id({"seed": 1, "n_paths": 10}, "abc", "d")
    >>> a == set_id({"n_paths": 10, "seed": 1}, "abc", "d"), len(a)
    (True, 64)
    """
    payload = {"request": dict(request), "model_version": model_version, "data": data_sha256}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def check_id(value: str) -> str:
    """``value`` if it is a well-formed set id (64 lower-case hex digits), else ValueError."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"set id must be 64 lower-case hex digits, got {str(value)[:80]!r}")
    return value


def npz_bytes(paths_: NDArray[np.float32], assets: Sequence[str]) -> bytes:
    """An ``.npz`` (uncompressed zip) of ``paths`` and ``assets`` with fixed timestamps.

    ``numpy.savez`` stamps the current time into the zip, so the same array would give
    different bytes; here every member is dated 1980-01-01.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in (
            ("paths.npy", np.ascontiguousarray(paths_, dtype=np.float32)),
            ("assets.npy", np.asarray(list(assets), dtype=str)),
        ):
            member = io.BytesIO()
            np.lib.format.write_array(member, arr, allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(name, date_time=_ZIP_TIME), member.getvalue())
    return buf.getvalue()


def parquet_table(paths_: NDArray[np.float32], assets: Sequence[str]) -> pa.Table:
    """Long table of a set: ``path``, ``day`` (1..H) and one float32 column per asset."""
    n, h, _ = paths_.shape
    columns = {
        "path": pa.array(np.repeat(np.arange(n, dtype=np.int32), h)),
        "day": pa.array(np.tile(np.arange(1, h + 1, dtype=np.int16), n)),
    }
    flat = np.asarray(paths_, dtype=np.float32).reshape(n * h, -1)
    for j, asset in enumerate(assets):
        columns[str(asset)] = pa.array(flat[:, j])
    return pa.table(columns)


class ScenarioStore:
    """The store rooted at ``root`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.sets = self.root / "sets"
        self.tmp = self.root / "tmp"
        self.quarantine = self.root / "quarantine"
        self.sets.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._verified: dict[Path, tuple[int, int]] = {}
        self._mutex = threading.Lock()

    def folder(self, set_id_: str) -> Path:
        """Folder of set ``set_id_`` (validated: no path traversal)."""
        return self.sets / check_id(set_id_)

    def exists(self, set_id_: str) -> bool:
        """Whether the set is complete and intact in the store (a damaged one is quarantined)."""
        try:
            self.verify(set_id_)
        except FileNotFoundError:
            return False
        return True

    def verify(self, set_id_: str) -> None:
        """Check every file of the set against ``checksums.json``.

        Raises
        ------
        FileNotFoundError
            If the set is not in the store.
        DamagedSet
            If it is damaged (it has then been moved to the quarantine).
        """
        folder = self.folder(set_id_)
        if not folder.is_dir():
            raise FileNotFoundError(f"scenario set {set_id_} is not in the store")
        try:
            expected = json.loads((folder / CHECKSUMS).read_text(encoding="utf-8"))
            files = dict(expected["files"])
            for name, info in files.items():
                path = folder / name
                stat = path.stat()
                if stat.st_size != int(info["size"]):
                    raise ValueError(f"{name} has {stat.st_size} bytes, expected {info['size']}")
                key = (stat.st_size, stat.st_mtime_ns)
                if self._verified.get(path) == key:
                    continue
                if _sha256(path) != info["sha256"]:
                    raise ValueError(f"{name} fails its SHA-256 check")
                self._verified[path] = key
            present = {p.name for p in folder.iterdir()} - {CHECKSUMS}
            if present != set(files):
                raise ValueError(f"files {sorted(present ^ set(files))} missing or unexpected")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if not folder.is_dir():  # removed meanwhile (quarantined by another reader)
                raise FileNotFoundError(f"scenario set {set_id_} is not in the store") from None
            reason = str(exc).replace(str(folder), "<set>")
            self._quarantine(set_id_, reason)
            raise DamagedSet(f"scenario set {set_id_} was damaged ({reason})") from None

    def _quarantine(self, set_id_: str, reason: str) -> None:
        folder = self.folder(set_id_)
        self.quarantine.mkdir(parents=True, exist_ok=True)
        target = self.quarantine / f"{set_id_}.{time.time_ns()}"
        with self._mutex:
            for path in list(self._verified):
                if path.parent == folder:
                    del self._verified[path]
            try:
                os.replace(folder, target)
            except OSError:
                return
        logger.error("scenario set %s is damaged (%s): moved to the quarantine", set_id_, reason)

    def write(
        self,
        set_id_: str,
        paths_: NDArray[np.float32],
        assets: Sequence[str],
        metadata: Mapping[str, Any],
    ) -> bool:
        """Write a set atomically; False if it was already there (nothing changed)."""
        final = self.folder(set_id_)
        if self.exists(set_id_):
            return False
        work = Path(tempfile.mkdtemp(prefix=f"{set_id_[:16]}.", dir=self.tmp))
        try:
            arr = np.ascontiguousarray(paths_, dtype=np.float32)
            np.save(work / "paths.npy", arr, allow_pickle=False)
            (work / FORMATS["npz"][0]).write_bytes(npz_bytes(arr, assets))
            pq.write_table(parquet_table(arr, assets), work / FORMATS["parquet"][0])
            text = json.dumps(dict(metadata), sort_keys=True, indent=1, default=json_default)
            (work / "metadata.json").write_text(text, encoding="utf-8")
            sums = {
                p.name: {"sha256": _sha256(p), "size": p.stat().st_size}
                for p in sorted(work.iterdir())
            }
            (work / CHECKSUMS).write_text(json.dumps({"files": sums}, indent=1), encoding="utf-8")
            for f in work.iterdir():
                f.chmod(0o644)
            work.chmod(0o755)
            try:
                os.replace(work, final)
            except OSError:
                if final.exists():  # another writer won the race with the same content
                    return False
                raise
            return True
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)

    def metadata(self, set_id_: str) -> dict[str, Any]:
        """The set's verified metadata (FileNotFoundError if it is absent or damaged)."""
        self.verify(set_id_)
        return json.loads((self.folder(set_id_) / "metadata.json").read_text(encoding="utf-8"))

    def paths(self, set_id_: str) -> NDArray[np.float32]:
        """The set's verified paths (n_paths, H, n_assets)."""
        self.verify(set_id_)
        return np.load(self.folder(set_id_) / "paths.npy", allow_pickle=False)

    def download(self, set_id_: str, fmt: str) -> Path:
        """The file of format ``fmt`` (``npz`` or ``parquet``) of a stored set."""
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {sorted(FORMATS)}, got {fmt!r}")
        self.verify(set_id_)
        return self.folder(set_id_) / FORMATS[fmt][0]

    def ids(self) -> list[str]:
        """Ids of the complete sets."""
        return sorted(p.name for p in self.sets.iterdir() if _ID.fullmatch(p.name))

    def clean(self) -> int:
        """Remove temporary folders left by interrupted writers; return how many."""
        removed = 0
        for p in self.tmp.iterdir():
            shutil.rmtree(p, ignore_errors=True)
            removed += 1
        return removed
