"""Start ``hunter serve`` as a subprocess on a free loopback port and wait until it is ready.

Used by the API tests and the API benchmark, so both run the server exactly as a user does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_api_server(
    env: dict[str, str],
    *,
    workers: int | None = None,
    threads: int | None = None,
    queue_workers: int = 0,
    log: IO[bytes] | None = None,
    wait: float = 20.0,
) -> tuple[subprocess.Popen, str]:
    """(process, base URL ending in /api). The log goes to ``log`` (a file, never an unread pipe).

    ``workers``/``threads`` default to ``hunter serve``'s own (one ``HunterWorker`` process per core)."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shared",
            "serve",
            "--port",
            str(port),
            "--queue-workers",
            str(queue_workers),
            *(["--workers", str(workers)] if workers else []),
            *(["--threads", str(threads)] if threads else []),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz/ready", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
        if process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"hunter serve did not become ready on {base}")
