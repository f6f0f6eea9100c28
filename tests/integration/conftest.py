"""Queue service emulators for the integration tests: Azurite (Azure Storage queues) and moto (SQS).

Both run as real servers on loopback and are reached over HTTP through the real SDKs, exactly as
the production services are. They start once per test session (per xdist worker), on first use.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AZURITE_QUEUE = ROOT / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-queue"
# Azurite's well-known development account (public, documented by Microsoft; not a secret).
DEVSTORE_ACCOUNT = "devstoreaccount1"
DEVSTORE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STARTUP_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's queue service on a free loopback port; yields its connection string.

    Fails (never skips) when Azurite is missing: CI must run the Azure tests.
    """
    if not AZURITE_QUEUE.exists():
        pytest.fail(
            f"Azurite is not installed ({AZURITE_QUEUE.relative_to(ROOT)} is missing): "
            "run `bash scripts/setup` (it runs `npm ci --prefix tools/azurite`; needs Node.js 20+)"
        )
    workspace = tmp_path_factory.mktemp("azurite")
    process = subprocess.Popen(
        [
            str(AZURITE_QUEUE),
            "--queueHost",
            "127.0.0.1",
            "--queuePort",
            "0",  # Azurite prints the port it got: no race for a "free" port
            "--inMemoryPersistence",  # (Azurite refuses --location with it)
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=workspace,  # anything Azurite writes lands in the test's temporary directory
    )
    endpoint = _wait_for_listen_line(process)
    try:
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={DEVSTORE_ACCOUNT};AccountKey={DEVSTORE_KEY};"
            f"QueueEndpoint={endpoint}/{DEVSTORE_ACCOUNT};"
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_listen_line(process: subprocess.Popen[str]) -> str:
    """Read Azurite's output until it says where it listens; then keep draining it in a thread."""
    seen: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if not ready.is_set():
                seen.append(line.rstrip())
                match = re.search(r"listens on (http://[\w.:\[\]-]+)", line)
                if match:
                    found.append(match.group(1).rstrip("/"))
                    ready.set()
        ready.set()  # the process ended

    threading.Thread(target=read, name="azurite-output", daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            break
    if not found:
        try:
            process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            process.kill()
        output = "\n".join(seen[-20:])
        pytest.fail(f"Azurite did not start within {STARTUP_TIMEOUT:.0f} s (exit code {process.poll()}):\n{output}")
    return found[0]


@pytest.fixture(scope="session")
def moto_sqs() -> Iterator[str]:
    """moto's server (all AWS services, SQS among them) on a free loopback port; yields its endpoint URL.

    It answers one request at a time: moto's in-memory SQS is not thread-safe (two concurrent
    ReceiveMessage calls can hand out the same message, two concurrent DeleteMessage calls can undo
    each other), and the concurrency tests are about our code, not moto's. Our clients still run
    concurrently, over real HTTP.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class SerialMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(
                self._ip_address, self._port, app, threaded=False, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = SerialMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def synthetic_dns() -> Iterator[str]:
    """``bench/synthetic_dns.py``: answers for any coN.com.tr (a realistic provider mix), 2 ms per query.

    Module-scoped (one process per test file); yields ``host:port`` for ``HUNTER_DNS_NAMESERVERS``."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, str(root / "bench" / "synthetic_dns.py"), "--port", "0", "--delay-ms", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=root,
    )
    ready = process.stdout.readline().split()  # type: ignore[union-attr]
    if not ready or ready[0] != "READY":
        process.kill()
        pytest.fail("the synthetic DNS server (bench/synthetic_dns.py) did not start")
    try:
        yield f"{ready[1]}:{ready[2]}"
    finally:
        process.terminate()
        process.wait(timeout=10)
