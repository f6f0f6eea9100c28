"""``hunter serve``: the functions-framework server (gunicorn) on one port.

The process model is chosen by measurement (``bench/api_bench.py``, 100,000 leads, 4 concurrent
clients, 2 cores; the README's API figures): one *sync* worker per core answers ``GET /v1/leads``
with a p95 of 6.4 ms on SQLite and 15.5 ms on PostgreSQL, where the same processes with 8 threads
each (gunicorn's gthread worker) took 19.4 and 25.9 ms; four sync processes on two cores were
slower than two. Threads in one process queue behind one GIL and hand every connection between the
poller and the pool, and a keep-alive connection stays with the process that accepted it however
busy that process is; a sync worker takes a connection only when it is free, so the kernel's accept
queue balances the load.
``--threads N`` brings the threaded worker back for deployments with many slow requests (large
exports, synchronous scans), which a sync worker serves one at a time.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own setting (shared.metrics reads it)


def create_app():
    import functions_framework

    return functions_framework.create_app(
        target="http_entry", source=str(Path(__file__).with_name("entry.py")), signature_type="http"
    )


def default_workers() -> int:
    """One server process per core, at least two, so that one slow request never stalls the server."""
    return max(2, os.cpu_count() or 1)


@contextmanager
def shared_metrics() -> Iterator[Path]:
    """One Prometheus view of every process ``hunter serve`` starts (see ``shared.metrics``).

    Set before any of them imports prometheus_client, which picks its value store at import; the
    directory is new for each run (counts from an earlier run must not add up) and removed after."""
    if "prometheus_client" in sys.modules and not os.environ.get(MULTIPROCESS_DIR):
        raise RuntimeError("prometheus_client was imported before the metrics directory was set")
    directory = Path(tempfile.mkdtemp(prefix="hunter-metrics-"))
    previous = os.environ.get(MULTIPROCESS_DIR)
    os.environ[MULTIPROCESS_DIR] = str(directory)
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_DIR, None)
        else:
            os.environ[MULTIPROCESS_DIR] = previous
        shutil.rmtree(directory, ignore_errors=True)


def serve(host: str, port: int, *, threads: int = 1, workers: int | None = None) -> None:
    from functions_framework._http import create_server

    # functions-framework turns threads=1 into gunicorn's sync worker (and >1 into gthread).
    create_server(create_app(), debug=False, threads=threads, workers=workers or default_workers()).run(host, port)
