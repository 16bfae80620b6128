"""Capture the records a module's logger emits, without pytest's logging plugin."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def captured_records(name: str, level: int = logging.WARNING) -> Iterator[list[logging.LogRecord]]:
    """The records of logger ``name`` at ``level`` or above emitted inside the block.

    The logger's level is lowered to ``level`` for the block if it would drop them, and
    restored after; the suite may run with ``-p no:logging``, so ``caplog`` is not used.
    """
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level)
    handler.emit = records.append  # type: ignore[method-assign]
    log = logging.getLogger(name)
    previous = log.level
    log.addHandler(handler)
    if log.getEffectiveLevel() > level:
        log.setLevel(level)
    try:
        yield records
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)
