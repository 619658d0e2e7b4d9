"""Dask's own log lines go to a file, not to the terminal of whoever runs a search.

Dask logs from two places: this process (the scheduler and the nannies of a cluster started here, and the
client) and each worker process. `LogRoute` moves this process's `distributed` log lines to a file for as
long as a cluster is open, its close included; `route_worker_output` (run in each worker process the
workbench starts, by the preload hook) sends the worker's log lines, and anything else it writes to its
stdout and stderr, to the same file.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

__all__ = ["LOG_ENV", "LogRoute", "route_worker_output"]

# The environment variable that gives a worker process the file to write to (set by the cluster's nannies).
LOG_ENV = "WORKBENCH_DASK_LOG"
LOGGER = "distributed"
FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def _open_log(path: str | Path) -> Path:
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


class LogRoute:
    """While started, this process's `distributed` log lines go to `path` (appended) instead of the
    terminal; `stop()` puts the handlers back as they were. Both are idempotent."""

    def __init__(self, path: str | Path) -> None:
        self.path = _open_log(path)
        self._handler: logging.Handler | None = None
        self._removed: list[logging.Handler] = []
        self._before: list[logging.Handler] = []
        self._propagate = True

    def start(self) -> LogRoute:
        if self._handler is not None:
            return self
        logger = logging.getLogger(LOGGER)
        handler = logging.FileHandler(self.path, encoding="utf-8", delay=True)
        handler.setFormatter(logging.Formatter(FORMAT))
        self._before = list(logger.handlers)
        self._removed = [h for h in logger.handlers if _to_terminal(h)]
        for old in self._removed:
            logger.removeHandler(old)
        logger.addHandler(handler)
        self._propagate, logger.propagate = logger.propagate, False
        self._handler = handler
        return self

    def stop(self) -> None:
        handler, self._handler = self._handler, None
        if handler is None:
            return
        logger = logging.getLogger(LOGGER)
        logger.removeHandler(handler)
        handler.close()
        # Back in their places: handlers added meanwhile (a test's capture) stay, after them.
        current = list(logger.handlers)
        kept = [h for h in self._before if h in current or h in self._removed]
        for extra in [h for h in current if h not in kept] + kept:
            logger.removeHandler(extra)
        for h in kept + [h for h in current if h not in kept]:
            logger.addHandler(h)
        logger.propagate = self._propagate
        self._removed, self._before = [], []


def _to_terminal(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    return isinstance(handler, logging.StreamHandler) and stream in (sys.stderr, sys.stdout, sys.__stderr__)


def route_worker_output(path: str | Path) -> None:
    """In a worker process: its stdout and stderr (Dask's log lines, library warnings, a crash's
    traceback) are appended to `path` from now on."""
    target = _open_log(path)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    finally:
        os.close(fd)
