"""Dask's log lines go to the cluster's log file, not the terminal: this process's and the workers'."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.compute._logs import LogRoute

SCRIPT = textwrap.dedent(
    """
    import logging, sys
    from workbench.compute import cluster

    def noisy():
        import logging, sys, warnings
        logging.getLogger("distributed.worker").warning("worker-side dask line")
        print("worker stderr line", file=sys.stderr, flush=True)
        warnings.warn("worker library warning")
        return 7

    if __name__ == "__main__":
        with cluster("local:2", log_path=sys.argv[1]) as client:
            logging.getLogger("distributed.nanny").warning("parent-side dask line")
            assert client.submit(noisy, pure=False).result() == 7
        logging.getLogger("distributed").warning("after the cluster closed")
    """
)


@pytest.mark.slow
def test_a_cluster_with_a_log_path_writes_nothing_to_the_terminal(tmp_path: Path) -> None:
    script = tmp_path / "noisy.py"
    script.write_text(SCRIPT)
    log = tmp_path / "logs" / "dask.log"
    done = subprocess.run(
        [sys.executable, str(script), str(log)], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    written = log.read_text()
    for line in ("worker-side dask line", "worker stderr line", "worker library warning", "parent-side dask line"):
        assert line in written
        assert line not in done.stderr
    # Once the cluster is closed, Dask's lines go where they went before.
    assert "after the cluster closed" in done.stderr and "after the cluster closed" not in written
    assert "leaked semaphore" not in done.stderr and "still alive" not in done.stderr


def test_a_log_route_puts_the_handlers_back(tmp_path: Path) -> None:
    logger = logging.getLogger("distributed")
    before = (list(logger.handlers), logger.propagate)
    route = LogRoute(tmp_path / "a" / "dask.log").start()
    assert route.start() is route  # idempotent
    logging.getLogger("distributed.scheduler").warning("routed line")
    assert not any(h.stream is sys.stderr for h in logger.handlers if isinstance(h, logging.StreamHandler))
    route.stop()
    route.stop()
    assert (list(logger.handlers), logger.propagate) == before
    assert "routed line" in (tmp_path / "a" / "dask.log").read_text()
